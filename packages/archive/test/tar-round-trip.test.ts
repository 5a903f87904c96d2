import { mkdir, readdir, stat } from 'node:fs/promises';
import { pipeline } from 'node:stream/promises';
import { pack } from 'tar-stream';
import { createWriteStream, existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { STANDARD_EXCLUSIONS, createTarArchive, extractTarArchive, idMapForShift, type IdMapEntry } from '../src/index.js';
import { compareTrees, createFixtureTree, type FixtureTree } from '../src/testing/index.js';
import { temporaryDirectory } from './helpers.js';

let work: { path: string; cleanup: () => Promise<void> };
let fixture: FixtureTree;

beforeAll(async () => {
  work = await temporaryDirectory('tar');
  fixture = await createFixtureTree(join(work.path, 'source'));
  if (fixture.skipped.length > 0) console.warn(`fixture features skipped: ${fixture.skipped.join('; ')}`);
});

afterAll(async () => {
  await work.cleanup();
});

describe('tar round trip', () => {
  it('keeps content, types, modes, owners, mtimes, xattrs, ACLs, hard links and holes, minus exclusions', async () => {
    const archive = join(work.path, 'plain.tar');
    const progress: number[] = [];
    const result = await createTarArchive({
      directory: fixture.root,
      exclude: STANDARD_EXCLUSIONS,
      output: archive,
      onProgress: (report) => progress.push(report.files ?? 0),
    });
    expect(result.totals).toMatch(/^Total bytes written: \d+/);
    expect(result.files).toBeGreaterThan(40);
    expect(result.bytes).toBe(result.writtenBytes);

    const target = join(work.path, 'restored-plain');
    await mkdir(target);
    await extractTarArchive({ archive, target, allowDevices: true });
    const comparison = await compareTrees(fixture.root, target, { exclude: STANDARD_EXCLUSIONS, ignore: ['root-mtime'] });
    expect(comparison.differences).toEqual([]);
    expect(comparison.entries).toBeGreaterThan(40);
    expect(await readdir(target)).not.toContain('lost+found');
  });

  it('names the file tar writes before it writes, next to the output, renamed to the output when complete', async () => {
    const archive = join(work.path, 'followed.tar');
    const seen: { path: string; existed: boolean }[] = [];
    await createTarArchive({
      directory: fixture.root,
      exclude: STANDARD_EXCLUSIONS,
      output: archive,
      onOutputFile: (path) => seen.push({ path, existed: existsSync(path) && !existsSync(archive) }),
    });
    expect(seen).toHaveLength(1);
    expect(seen[0]!.existed).toBe(true);
    expect(dirname(seen[0]!.path)).toBe(work.path);
    expect(existsSync(seen[0]!.path)).toBe(false);
    expect((await stat(archive)).size).toBeGreaterThan(0);
  });

  it('round-trips a zstd archive written to a stream, extracted with an ID shift for an unprivileged container', async () => {
    const archive = join(work.path, 'shifted.tar.zst');
    const output = createWriteStream(archive);
    // Device nodes cannot be created inside a user namespace (pct restore excludes ./dev/* for that reason).
    const exclude = [...STANDARD_EXCLUSIONS, '/devices'];
    await createTarArchive({ directory: fixture.root, exclude, output, compression: 'zstd' });

    const target = join(work.path, 'restored-shifted');
    await mkdir(target);
    await extractTarArchive({ archive, target, idMap: idMapForShift(100_000) });
    const comparison = await compareTrees(fixture.root, target, { exclude, idShift: 100_000, ignore: ['root-mtime'] });
    expect(comparison.differences).toEqual([]);
  });

  it('honours sources: only the listed subtrees are archived (rate-limited gzip file output)', async () => {
    const archive = join(work.path, 'sources.tar.gz');
    const result = await createTarArchive({ directory: fixture.root, sources: ['./etc', 'home/user/'], output: archive, compression: 'gzip', bandwidthLimit: 256 * 1024 * 1024 });
    expect(result.writtenBytes).toBeLessThan(result.bytes);
    const target = join(work.path, 'restored-sources');
    await mkdir(target);
    await extractTarArchive({ archive, target });
    expect((await readdir(target)).sort()).toEqual(['etc', 'home']);
    expect((await compareTrees(join(fixture.root, 'home/user'), join(target, 'home/user'))).differences).toEqual([]);
    expect((await compareTrees(join(fixture.root, 'etc'), join(target, 'etc'))).differences).toEqual([]);
  });
});

describe('extracting with a container ID map of several ranges', () => {
  it('maps each range (lxc.idmap with a passed-through user), in a user namespace', async () => {
    const archive = join(work.path, 'ranges.tar');
    const packer = pack();
    const written = pipeline(packer, createWriteStream(archive));
    packer.entry({ name: './', type: 'directory', uid: 0, gid: 0 });
    packer.entry({ name: './root-file', uid: 0, gid: 0 }, 'r\n');
    packer.entry({ name: './user-file', uid: 1000, gid: 1000 }, 'u\n');
    packer.entry({ name: './other-file', uid: 1500, gid: 1500 }, 'o\n');
    packer.finalize();
    await written;
    // u/g 0..999 -> 100000.., 1000 -> 1000 (passed through), 1001..65535 -> 101001..
    const idMap: IdMapEntry[] = (['u', 'g'] as const).flatMap((type) => [
      { type, inner: 0, outer: 100_000, count: 1000 },
      { type, inner: 1000, outer: 1000, count: 1 },
      { type, inner: 1001, outer: 101_001, count: 64_535 },
    ]);
    const target = join(work.path, 'restored-ranges');
    await mkdir(target);
    await extractTarArchive({ archive, target, idMap });
    const owner = async (name: string): Promise<[number, number]> => {
      const info = await stat(join(target, name));
      return [info.uid, info.gid];
    };
    expect(await owner('root-file')).toEqual([100_000, 100_000]);
    expect(await owner('user-file')).toEqual([1000, 1000]);
    expect(await owner('other-file')).toEqual([101_500, 101_500]);
  });
});
