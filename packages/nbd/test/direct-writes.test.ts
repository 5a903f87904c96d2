import { mkdtemp, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';
import { createQcow2Target } from '../src/qcow2/qcow2-target.js';
import { readImageBytes, useScratchDir } from '../src/qemu/test-support.js';
import { allocateAligned, alignedZeroes, isDirectIoReady } from '../src/io/aligned-memory.js';

const KiB = 1024;
const MiB = 1024 * KiB;

describe('page-aligned buffers', () => {
  it('are ready for O_DIRECT only at aligned offsets and whole blocks', () => {
    const [buffer] = allocateAligned(2, 3 * 4096 + 100) as [Buffer, Buffer];
    expect(isDirectIoReady(buffer.subarray(0, 8192))).toBe(true);
    expect(isDirectIoReady(buffer.subarray(4096, 12288))).toBe(true);
    expect(isDirectIoReady(buffer.subarray(512, 4608))).toBe(false);
    expect(isDirectIoReady(buffer.subarray(0, 4095))).toBe(false);
    expect(isDirectIoReady(buffer)).toBe(false); // 3 blocks + 100 bytes
    expect(isDirectIoReady(Buffer.alloc(8192))).toBe(false);
    expect(alignedZeroes(64 * KiB).every((byte) => byte === 0)).toBe(true);
  });
});

/**
 * Writes whole aligned clusters, unaligned plain buffers and partial clusters (odd offsets and
 * lengths) into a fresh qcow2 and returns what it should read back.
 */
async function writeMixed(path: string, size: number): Promise<{ expected: Buffer; target: Awaited<ReturnType<typeof createQcow2Target>> }> {
  const expected = Buffer.alloc(size);
  const target = await createQcow2Target({ path, size, clusterSize: 64 * KiB });
  const [aligned] = allocateAligned(1, 2 * MiB) as [Buffer];
  for (let index = 0; index < aligned.length; index++) aligned[index] = (index * 31 + 7) & 0xff;
  const plain = Buffer.from(aligned.subarray(0, MiB + 3 * KiB)).fill(0x5a, 0, 100);
  const writes: Array<[number, Buffer]> = [
    [0, aligned], // whole clusters, direct
    [4 * MiB + 512, plain], // unaligned offset and length, buffered
    [3 * MiB, aligned.subarray(4096, 4096 + 64 * KiB)], // aligned view, one cluster
    [size - 1000, Buffer.from('é'.repeat(500))], // the last partial cluster, non-ASCII bytes
  ];
  await Promise.all(writes.map(([offset, data]) => target.write(offset, data)));
  for (const [offset, data] of writes) data.copy(expected, offset);
  await target.writeZeroes(64 * KiB, 64 * KiB);
  expected.fill(0, 64 * KiB, 128 * KiB);
  await target.flush();
  await target.close();
  return { expected, target };
}

describe('qcow2 target write paths', () => {
  const scratch = useScratchDir('bp-direct-writes');

  it('writes aligned data with O_DIRECT and the rest buffered, and reads back exactly', async () => {
    const path = join(scratch.dir, 'mixed.qcow2');
    const size = 8 * MiB + 4096 + 1536; // not a multiple of the cluster size
    const { expected, target } = await writeMixed(path, size);
    expect(target.writePaths.directBytes).toBeGreaterThanOrEqual(2 * MiB + 64 * KiB);
    expect(target.writePaths.bufferedBytes).toBeGreaterThan(0);
    await execa('qemu-img', ['check', '-q', path]);
    expect((await readImageBytes(path, 'qcow2', scratch.dir)).equals(expected)).toBe(true);
  });

  // Older kernels refuse O_DIRECT on tmpfs (the buffered fallback), 6.6 and later accept it.
  it('reads back exactly on tmpfs, whichever path the kernel allows there', async () => {
    const dir = await mkdtemp('/dev/shm/bp-direct-writes-');
    try {
      const path = join(dir, 'tmpfs.qcow2');
      const size = 8 * MiB + 4096 + 1536; // not a multiple of the cluster size
      const { expected, target } = await writeMixed(path, size);
      expect(target.writePaths.directBytes + target.writePaths.bufferedBytes).toBeGreaterThan(3 * MiB);
      await execa('qemu-img', ['check', '-q', path]);
      expect((await readImageBytes(path, 'qcow2', scratch.dir)).equals(expected)).toBe(true);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
