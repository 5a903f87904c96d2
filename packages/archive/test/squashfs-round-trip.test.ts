import { mkdir, readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BpError } from '@bp/api';
import { STANDARD_EXCLUSIONS, createSquashfsArchive, extractSquashfsArchive, mountSquashfs, withMountedSquashfs } from '../src/index.js';
import { compareTrees, createFixtureTree, type FixtureTree, type TreeAspect } from '../src/testing/index.js';
import { temporaryDirectory } from './helpers.js';

// The squashfs format stores user.*, trusted.* and security.* xattrs only: POSIX ACLs
// (system.posix_acl_*) cannot be kept. Everything else must survive.
const SQUASHFS_LOSES: TreeAspect[] = ['acl'];

let work: { path: string; cleanup: () => Promise<void> };
let fixture: FixtureTree;
let image: string;

beforeAll(async () => {
  work = await temporaryDirectory('squashfs');
  fixture = await createFixtureTree(join(work.path, 'source'));
  if (fixture.skipped.length > 0) console.warn(`fixture features skipped: ${fixture.skipped.join('; ')}`);
  image = join(work.path, 'archive.sqfs');
  await createSquashfsArchive({ directory: fixture.root, exclude: STANDARD_EXCLUSIONS, output: image });
});

afterAll(async () => {
  await work.cleanup();
});

describe('squashfs round trip', () => {
  // squashfuse shows sparse files as allocated and security.capability as trusted.capability.
  const FUSE_VIEW_LOSES: TreeAspect[] = ['sparse', 'xattrs'];

  it.each(['kernel', 'fuse'] as const)('a %s mount shows the source tree minus exclusions', async (method) => {
    const mount = await mountSquashfs(image, { method });
    try {
      expect(mount.method).toBe(method);
      const ignore: TreeAspect[] = [...SQUASHFS_LOSES, 'root-mtime', ...(method === 'fuse' ? FUSE_VIEW_LOSES : [])];
      const comparison = await compareTrees(fixture.root, mount.path, { exclude: STANDARD_EXCLUSIONS, ignore });
      if (method === 'fuse') {
        const { stdout } = await execa('getfattr', ['--only-values', '-n', 'user.comment', join(mount.path, 'home/user/notes.txt')]);
        expect(stdout).toBe('fixture xattr');
      }
      expect(comparison.differences).toEqual([]);
      expect(comparison.entries).toBeGreaterThan(40);
    } finally {
      await mount.unmount();
    }
    await expect(stat(mount.path)).rejects.toThrow();
  });

  it('extracts with unsquashfs', async () => {
    const target = join(work.path, 'unsquashed');
    await mkdir(target);
    await extractSquashfsArchive({ image, target });
    const comparison = await compareTrees(fixture.root, target, { exclude: STANDARD_EXCLUSIONS, ignore: [...SQUASHFS_LOSES, 'root-mtime'] });
    expect(comparison.differences).toEqual([]);
  });

  it('gives concurrent mounts of one image their own mount points and unmounts after errors', async () => {
    const [first, second] = await Promise.all([mountSquashfs(image), mountSquashfs(image)]);
    expect(first.path).not.toBe(second.path);
    await Promise.all([first.unmount(), second.unmount()]);
    let seen = '';
    await expect(
      withMountedSquashfs(image, async (path) => {
        seen = path;
        throw new Error('restore failed');
      }),
    ).rejects.toThrow('restore failed');
    await expect(stat(seen)).rejects.toThrow();
  });

  it('honours sources', async () => {
    const output = join(work.path, 'sources.sqfs');
    await createSquashfsArchive({ directory: fixture.root, sources: ['./etc', './home/user'], output });
    await withMountedSquashfs(output, async (path) => {
      expect((await readdir(path)).sort()).toEqual(['etc', 'home']);
      expect(await readdir(join(path, 'home'))).toEqual(['user']);
      const comparison = await compareTrees(join(fixture.root, 'home/user'), join(path, 'home/user'), { ignore: SQUASHFS_LOSES });
      expect(comparison.differences).toEqual([]);
    });
  });

  it('fails with BP_ARCHIVE_FAILED and leaves no partial image, or BP_MOUNT_FAILED for a bad image', async () => {
    const outputDirectory = join(work.path, 'failing');
    await mkdir(outputDirectory);
    const error = await createSquashfsArchive({ directory: join(work.path, 'missing'), output: join(outputDirectory, 'x.sqfs') }).catch((caught: unknown) => caught);
    expect(BpError.hasCode(error, 'BP_ARCHIVE_FAILED')).toBe(true);
    expect(await readdir(outputDirectory)).toEqual([]);

    const notAnImage = join(fixture.root, 'etc/hostname');
    const mountError = await mountSquashfs(notAnImage, { parentDirectory: outputDirectory }).catch((caught: unknown) => caught);
    expect(BpError.hasCode(mountError, 'BP_MOUNT_FAILED')).toBe(true);
    expect(await readdir(outputDirectory)).toEqual([]);
  });
});
