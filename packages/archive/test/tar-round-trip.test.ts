import { mkdir, readdir } from 'node:fs/promises';
import { createWriteStream } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { STANDARD_EXCLUSIONS, compareTrees, createFixtureTree, createTarArchive, extractTarArchive, type FixtureTree } from '../src/index.js';
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

  it('round-trips a zstd archive written to a stream, extracted with an ID shift for an unprivileged container', async () => {
    const archive = join(work.path, 'shifted.tar.zst');
    const output = createWriteStream(archive);
    // Device nodes cannot be created inside a user namespace (pct restore excludes ./dev/* for that reason).
    const exclude = [...STANDARD_EXCLUSIONS, '/devices'];
    await createTarArchive({ directory: fixture.root, exclude, output, compression: 'zstd' });

    const target = join(work.path, 'restored-shifted');
    await mkdir(target);
    await extractTarArchive({ archive, target, idMapping: { uid: 100_000, gid: 100_000 } });
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
