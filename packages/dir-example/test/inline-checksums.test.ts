import { randomBytes } from 'node:crypto';
import { mkdtemp, open, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { copyRegions, createFileSource } from '@bp/nbd';
import { createQcow2Target } from '@bp/nbd/qcow2';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { hashFileBlocks, MANIFEST_BLOCK_SIZE, rootHash } from '../src/verify/block-hashes.js';
import { InlineChecksums } from '../src/verify/inline-checksums.js';

const MiB = 1024 * 1024;

describe('checksums taken while an image is written', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'bp-inline-sums-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  /** A raw source with data, zeroes and holes at odd offsets. */
  async function rawSource(size: number): Promise<string> {
    const path = join(dir, 'source.raw');
    const file = await open(path, 'w');
    await file.truncate(size);
    for (const [offset, length] of [[0, 5 * MiB + 4096], [7 * MiB, 3 * MiB], [17 * MiB + 65536, MiB], [size - 65536, 65536]] as const) {
      await file.write(randomBytes(length), 0, length, offset);
    }
    await file.write(Buffer.alloc(MiB), 0, MiB, 8 * MiB);
    await file.close();
    return path;
  }

  it.each([
    [64 * 1024, 256 * 1024],
    [2 * MiB, 2 * MiB],
  ])('match a fresh read of the qcow2 file (cluster size %i, requests of %i) and read back only metadata blocks', async (clusterSize, requestSize) => {
    const size = 48 * MiB + 65536;
    const source = await createFileSource(await rawSource(size));
    const checksums = new InlineChecksums();
    const image = join(dir, 'out.qcow2');
    const target = await createQcow2Target({ path: image, size, clusterSize, onFileWrite: (position, buffers) => checksums.observe(position, buffers) });
    try {
      // Many requests in flight: writes complete out of order.
      await copyRegions({ source, target, regions: [{ offset: 0, length: size }], requestSize, inFlight: 16 });
    } finally {
      await target.close();
      await source.close();
    }
    const entry = await checksums.finish(image);
    const fresh = await hashFileBlocks(image);
    expect(entry.size).toBe(fresh.size);
    expect(entry.blocks).toEqual(fresh.blocks);
    expect(entry.root).toBe(rootHash(fresh.blocks));
    expect(checksums.counts.inline + checksums.counts.reread).toBe(fresh.size);
    // Header, refcounts and L1/L2 tables live in a few blocks; everything else was hashed inline.
    expect(checksums.counts.reread).toBeLessThanOrEqual(3 * MANIFEST_BLOCK_SIZE);
  });

  it('reads back a block written again after it was hashed, and one written out of order', async () => {
    const path = join(dir, 'plain.bin');
    const file = await open(path, 'w');
    const checksums = new InlineChecksums();
    const write = async (position: number, data: Buffer): Promise<void> => {
      checksums.observe(position, [data]);
      await file.write(data, 0, data.length, position);
    };
    await write(0, randomBytes(MANIFEST_BLOCK_SIZE));
    await write(MANIFEST_BLOCK_SIZE, randomBytes(MANIFEST_BLOCK_SIZE + 12345));
    await write(100, randomBytes(10)); // block 0 again, after it was hashed
    await write(3 * MANIFEST_BLOCK_SIZE - 4096, randomBytes(4096)); // block 2, not from its start
    await write(2 * MANIFEST_BLOCK_SIZE + 12345, randomBytes(MANIFEST_BLOCK_SIZE - 12345 - 4096)); // the gap
    await file.close();
    const entry = await checksums.finish(path);
    expect(entry.blocks).toEqual((await hashFileBlocks(path)).blocks);
    expect(checksums.counts.reread).toBe(2 * MANIFEST_BLOCK_SIZE);
  });
});
