import { randomBytes } from 'node:crypto';
import { appendFile, chown, mkdir, mkdtemp, rename, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FILES } from '../src/layout/index.js';
import { hashFileBlocks, MANIFEST_BLOCK_SIZE, rootHash } from '../src/verify/block-hashes.js';
import { GrowingFileChecksums } from '../src/verify/growing-file-checksums.js';
import { readStoredChecksums, storeChecksums } from '../src/verify/stored-checksums.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'bp-stored-sums-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('checksums of a file another writer appends to', () => {
  it('match a fresh read, across odd appends, pauses and a rename while it grows', async () => {
    const path = join(dir, '.archive.tar.partial');
    await writeFile(path, '');
    const checksums = new GrowingFileChecksums();
    checksums.follow(path);
    // Pieces that straddle block boundaries, one byte, an empty append, and a tail shorter than a block.
    for (const length of [1, MANIFEST_BLOCK_SIZE - 1, 0, MANIFEST_BLOCK_SIZE + 3, 2 * MANIFEST_BLOCK_SIZE, 12_345]) {
      await appendFile(path, randomBytes(length));
      await sleep(30);
    }
    await rename(path, join(dir, 'archive.tar')); // as the atomic writer does once the archive is complete
    const entry = await checksums.finish();
    const fresh = await hashFileBlocks(join(dir, 'archive.tar'));
    expect(entry.size).toBe(fresh.size);
    expect(entry.blocks).toEqual(fresh.blocks);
    expect(entry.root).toBe(rootHash(fresh.blocks));
  });

  it('gives the checksums of an empty file and of a file of exactly one block', async () => {
    for (const size of [0, MANIFEST_BLOCK_SIZE]) {
      const path = join(dir, `f${size}`);
      await writeFile(path, randomBytes(size));
      const checksums = new GrowingFileChecksums();
      checksums.follow(path);
      const entry = await checksums.finish();
      expect(entry.blocks).toEqual((await hashFileBlocks(path)).blocks);
      expect(entry.size).toBe(size);
    }
  });
});

describe('the checksum store', () => {
  it("counts only entries this process's user wrote as regular files", async () => {
    const mine = join(dir, 'archive.tar');
    const theirs = join(dir, 'guest.conf');
    const linked = join(dir, 'drive-scsi0.qcow2');
    for (const file of [mine, theirs, linked]) await writeFile(file, randomBytes(1000));
    await storeChecksums(mine, { size: 1000, blocks: ['a'], root: 'r1' });
    await storeChecksums(theirs, { size: 1000, blocks: ['b'], root: 'r2' });
    // Written by a container's mapped root (uid 100000 on the host).
    await chown(join(dir, FILES.checksums, 'guest.conf.json'), 100_000, 100_000);
    await mkdir(join(dir, 'elsewhere'));
    await writeFile(join(dir, 'elsewhere', 'entry.json'), JSON.stringify({ size: 1000, blocks: ['c'], root: 'r3' }));
    await symlink(join(dir, 'elsewhere', 'entry.json'), join(dir, FILES.checksums, 'drive-scsi0.qcow2.json'));
    expect(await readStoredChecksums(dir)).toEqual({ 'archive.tar': { size: 1000, blocks: ['a'], root: 'r1' } });
  });
});
