import { chmod, chown, mkdir, readdir, stat, writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { STANDARD_EXCLUSIONS, extractTarArchive, withMountedSquashfs } from '../src/index.js';
import { compareTrees, createFixtureTree, type FixtureTree } from '../src/testing/index.js';
import { temporaryDirectory } from './helpers.js';

// PVE runs backup_container as the container's mapped root (host uid 100000 here), in a child
// process. These tests do the same: the creation runs in a node process started with that uid,
// reading a tree owned by mapped ids and writing into a directory only that uid may write.
const MAPPED_ROOT = 100_000;
const packageDirectory = fileURLToPath(new URL('..', import.meta.url));
const child = fileURLToPath(new URL('./fixtures/create-archive-child.mts', import.meta.url));
const childTsconfig = fileURLToPath(new URL('./fixtures/tsconfig.child.json', import.meta.url));

interface ChildOutcome {
  ok: boolean;
  uid: number;
  code?: string;
  message?: string;
  result?: unknown;
}

async function createAsMappedRoot(kind: 'tar' | 'squashfs', options: Record<string, unknown>): Promise<ChildOutcome> {
  const { stdout } = await execa('node', ['--import', 'tsx', child, kind, JSON.stringify(options)], {
    cwd: packageDirectory,
    uid: MAPPED_ROOT,
    gid: MAPPED_ROOT,
    env: { TSX_TSCONFIG_PATH: childTsconfig, HOME: '/nonexistent' },
  });
  return JSON.parse(stdout) as ChildOutcome;
}

let work: { path: string; cleanup: () => Promise<void> };
let fixture: FixtureTree;
let outputDirectory: string;
// Devices are archived as metadata only, so they need no special right; mksquashfs and tar read
// every other file, which the fixture keeps readable for its mapped owners.
const exclude = [...STANDARD_EXCLUSIONS];

beforeAll(async () => {
  work = await temporaryDirectory('mapped');
  await chmod(work.path, 0o755);
  fixture = await createFixtureTree(join(work.path, 'source'), { idOffset: MAPPED_ROOT });
  // In PVE the child is root of the container's user namespace and may read every file of the
  // container. A plain setuid child (as here, and as the host spawns it) reads only what its
  // uid may read, so the one file that is private to another mapped user is opened up.
  await chmod(join(fixture.root, 'home/user/acl-file'), 0o644);
  outputDirectory = join(work.path, 'backup');
  await mkdir(outputDirectory, { mode: 0o700 });
  await chown(outputDirectory, MAPPED_ROOT, MAPPED_ROOT);
});

afterAll(async () => {
  await work.cleanup();
});

describe('creating archives as the container root mapped to host uid 100000', () => {
  it('creates a tar archive that restores to the same tree', async () => {
    const output = join(outputDirectory, 'archive.tar');
    const outcome = await createAsMappedRoot('tar', { directory: fixture.root, exclude, output, compression: 'zstd' });
    expect(outcome).toMatchObject({ ok: true, uid: MAPPED_ROOT });
    expect((await stat(output)).uid).toBe(MAPPED_ROOT);

    const target = join(work.path, 'restored-tar');
    await mkdir(target);
    await extractTarArchive({ archive: output, target, compression: 'zstd', allowDevices: true });
    // --skip-old-files (pct restore's flag) leaves the existing root directory's metadata alone.
    const comparison = await compareTrees(fixture.root, target, { exclude, ignore: ['root'] });
    expect(comparison.differences).toEqual([]);
  });

  it('creates a squashfs image that mounts as the same tree', async () => {
    const output = join(outputDirectory, 'archive.sqfs');
    const outcome = await createAsMappedRoot('squashfs', { directory: fixture.root, exclude, output });
    expect(outcome).toMatchObject({ ok: true, uid: MAPPED_ROOT });
    expect((await stat(output)).uid).toBe(MAPPED_ROOT);
    await withMountedSquashfs(output, async (path) => {
      const comparison = await compareTrees(fixture.root, path, { exclude, ignore: ['acl', 'root-mtime'] });
      expect(comparison.differences).toEqual([]);
    });
  });

  it('fails with a coded error, not a partial archive, when the mapped root may not write the output', async () => {
    const output = join(work.path, 'archive.tar');
    const outcome = await createAsMappedRoot('tar', { directory: fixture.root, exclude, output });
    expect(outcome).toMatchObject({ ok: false, uid: MAPPED_ROOT, code: 'BP_ARCHIVE_FAILED' });
  });

  it.each(['tar', 'squashfs'] as const)('%s fails with BP_ARCHIVE_FAILED instead of storing an unreadable file as empty', async (kind) => {
    const tree = join(work.path, `unreadable-${kind}`);
    await mkdir(tree);
    await writeFile(join(tree, 'secret'), 'private to another mapped user');
    await chown(join(tree, 'secret'), MAPPED_ROOT + 1000, MAPPED_ROOT + 1000);
    await chmod(join(tree, 'secret'), 0o600);
    const output = join(outputDirectory, `unreadable.${kind}`);
    const outcome = await createAsMappedRoot(kind, { directory: tree, output });
    expect(outcome).toMatchObject({ ok: false, code: 'BP_ARCHIVE_FAILED' });
    expect(outcome.message).toMatch(/secret/);
    expect(await readdir(outputDirectory)).not.toContain(`unreadable.${kind}`);
    expect((await readdir(outputDirectory)).filter((name) => name.includes('partial'))).toEqual([]);
  });
});
