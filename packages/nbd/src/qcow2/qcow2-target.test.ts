import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { BpError } from '@bp/api/errors';
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';
import type { CopyTarget } from '../copy/target.js';
import { patternedQcow2, readImageBytes, useScratchDir } from '../qemu/test-support.js';
import { openImageReader } from './image-reader.js';
import { createQcow2Target } from './qcow2-target.js';

const KiB = 1024;
const MiB = 1024 * KiB;

/** Deterministic PRNG (mulberry32) so a failure can be replayed. */
function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function randomBytes(next: () => number, length: number): Buffer {
  const data = Buffer.alloc(length);
  for (let at = 0; at < length; at += 4) data.writeUInt32LE(Math.floor(next() * 0x1_0000_0000), Math.min(at, length - 4));
  return data;
}

type Operation = { kind: 'write'; offset: number; data: Buffer } | { kind: 'zero'; offset: number; length: number };

/** Random aligned writes and zero ranges, some overlapping, within `size`. */
function randomOperations(seed: number, size: number, align: number, count: number): Operation[] {
  const next = random(seed);
  const operations: Operation[] = [];
  const units = size / align;
  for (let index = 0; index < count; index++) {
    const offset = Math.floor(next() * units) * align;
    const length = Math.min(size - offset, (1 + Math.floor(next() * 24)) * align);
    if (next() < 0.25) operations.push({ kind: 'zero', offset, length });
    else operations.push({ kind: 'write', offset, data: randomBytes(next, length) });
  }
  return operations;
}

/** Applies operations in batches of `inFlight` concurrent requests; batches never overlap internally. */
async function applyOperations(target: CopyTarget, reference: Buffer, operations: Operation[], inFlight: number): Promise<void> {
  let batch: Promise<void>[] = [];
  let batchRanges: [number, number][] = [];
  for (const operation of operations) {
    const length = operation.kind === 'write' ? operation.data.length : operation.length;
    const overlaps = batchRanges.some(([start, end]) => operation.offset < end && start < operation.offset + length);
    if (overlaps || batch.length >= inFlight) {
      await Promise.all(batch);
      batch = [];
      batchRanges = [];
    }
    batchRanges.push([operation.offset, operation.offset + length]);
    if (operation.kind === 'write') {
      operation.data.copy(reference, operation.offset);
      batch.push(target.write(operation.offset, operation.data));
    } else {
      reference.fill(0, operation.offset, operation.offset + operation.length);
      batch.push(target.writeZeroes(operation.offset, operation.length));
    }
  }
  await Promise.all(batch);
}

async function expectCheckClean(path: string): Promise<void> {
  const result = await execa('qemu-img', ['check', '--output=json', '-f', 'qcow2', path], { reject: false });
  const report = JSON.parse(result.stdout || '{}') as Record<string, unknown>;
  expect(report).not.toHaveProperty('corruptions');
  expect(report).not.toHaveProperty('leaks');
  expect(report['check-errors']).toBe(0);
  expect(result.exitCode).toBe(0);
}

async function expectSameContent(image: string, reference: Buffer, scratch: string): Promise<void> {
  const referencePath = join(scratch, `reference-${String(Math.random()).slice(2)}.raw`);
  await writeFile(referencePath, reference);
  const compare = await execa('qemu-img', ['compare', '-f', 'qcow2', '-F', 'raw', image, referencePath], { reject: false });
  expect(compare.stdout + compare.stderr).toContain('Images are identical');
  expect(compare.exitCode).toBe(0);
}

/** Flushes and closes the target, then checks the image is clean and equals `reference`. */
async function flushCloseAndVerify(target: CopyTarget, path: string, reference: Buffer, scratch: string): Promise<void> {
  await target.flush();
  await target.close();
  await expectCheckClean(path);
  await expectSameContent(path, reference, scratch);
}

async function imageInfo(path: string): Promise<Record<string, unknown>> {
  return JSON.parse((await execa('qemu-img', ['info', '--output=json', path])).stdout) as Record<string, unknown>;
}

describe('createQcow2Target', () => {
  const scratch = useScratchDir('bp-qcow2-test');

  it('writes a fresh image that qemu-img checks clean and reads back like the raw reference', async () => {
    const size = 48 * MiB;
    const path = join(scratch.dir, 'full.qcow2');
    const target = await createQcow2Target({ path, size });
    expect(target.zeroInitialized).toBe(true);
    const reference = Buffer.alloc(size);
    await applyOperations(target, reference, randomOperations(1, size, 64 * KiB, 120), 8);
    await flushCloseAndVerify(target, path, reference, scratch.dir);
    const info = await imageInfo(path);
    expect(info['virtual-size']).toBe(size);
    expect(info['cluster-size']).toBe(64 * KiB);
    expect(info).not.toHaveProperty('backing-filename');
  });

  it('accepts unaligned writes and zero ranges on a fresh image, also with concurrent requests on one cluster', async () => {
    const size = 8 * MiB;
    const path = join(scratch.dir, 'unaligned.qcow2');
    const target = await createQcow2Target({ path, size });
    const reference = Buffer.alloc(size);
    await applyOperations(target, reference, randomOperations(2, size, 512, 150), 8);
    // Neighbouring halves of one fresh cluster, in flight together.
    const left = Buffer.alloc(3000, 0x61);
    const right = Buffer.alloc(5000, 0x62);
    left.copy(reference, 7 * MiB + 1000);
    right.copy(reference, 7 * MiB + 4000);
    await Promise.all([target.write(7 * MiB + 1000, left), target.write(7 * MiB + 4000, right)]);
    await flushCloseAndVerify(target, path, reference, scratch.dir);
  });

  it('handles an image size that is not a multiple of the cluster size', async () => {
    const size = 5 * MiB + 12 * KiB + 512;
    const path = join(scratch.dir, 'odd.qcow2');
    const target = await createQcow2Target({ path, size });
    const reference = Buffer.alloc(size);
    const tail = Buffer.alloc(size - 5 * MiB, 0x7e);
    tail.copy(reference, 5 * MiB);
    await target.write(5 * MiB, tail);
    const head = Buffer.alloc(64 * KiB, 0x33);
    head.copy(reference, 0);
    await target.write(0, head);
    await flushCloseAndVerify(target, path, reference, scratch.dir);
    const info = await imageInfo(path);
    expect(info['virtual-size']).toBe(size);
  });

  it('writes an overlay whose zero clusters mask the backing file and whose header names the backing file as given', async () => {
    const size = 16 * MiB + 8 * KiB;
    const base = join(scratch.dir, 'base.qcow2');
    await patternedQcow2(base, size, 0x11);
    const path = join(scratch.dir, 'incr.qcow2');
    const target = await createQcow2Target({ path, size, backingFile: 'base.qcow2', backingFormat: 'qcow2' });
    expect(target.zeroInitialized).toBe(false);
    const expected = Buffer.alloc(size, 0x11);
    const next = random(3);
    const chunk = randomBytes(next, 3 * 64 * KiB);
    chunk.copy(expected, 2 * MiB);
    await target.write(2 * MiB, chunk);
    expected.fill(0, 5 * MiB, 9 * MiB);
    await target.writeZeroes(5 * MiB, 4 * MiB);
    // Write into a zeroed cluster: the rest of that cluster stays zero.
    const inZero = Buffer.alloc(4 * KiB, 0x99);
    inZero.copy(expected, 6 * MiB + 8 * KiB);
    await target.write(6 * MiB + 8 * KiB, inZero);
    // The last cluster is partial because the image ends early: a write to its end is whole.
    expected.fill(0x44, 16 * MiB, size);
    await target.write(16 * MiB, Buffer.alloc(8 * KiB, 0x44));
    await target.flush();
    await target.close();

    const info = await imageInfo(path);
    expect(info['backing-filename']).toBe('base.qcow2');
    expect(info['backing-filename-format']).toBe('qcow2');
    expect(info['full-backing-filename']).toBe(base);
    await expectCheckClean(path);
    expect((await readImageBytes(path, 'qcow2', scratch.dir)).equals(expected)).toBe(true);
  });

  it('refuses a partial cluster of an overlay that would need backing data, without changing the image', async () => {
    const size = 4 * MiB;
    await patternedQcow2(join(scratch.dir, 'base.qcow2'), size, 0x22);
    const path = join(scratch.dir, 'incr.qcow2');
    const target = await createQcow2Target({ path, size, backingFile: 'base.qcow2' });
    const aligned = Buffer.alloc(64 * KiB, 0x55);
    // The request spans a whole cluster and a partial one: nothing of it may be applied.
    const error = await target.write(MiB, Buffer.alloc(64 * KiB + 512, 0x66)).catch((caught: unknown) => caught);
    expect(BpError.hasCode(error, 'BP_INVALID_ARGUMENT')).toBe(true);
    await expect(target.writeZeroes(2 * MiB + 512, 4096)).rejects.toMatchObject({ code: 'BP_INVALID_ARGUMENT' });
    // The target stays usable.
    await target.write(0, aligned);
    await target.flush();
    await target.close();
    const expected = Buffer.alloc(size, 0x22);
    aligned.copy(expected, 0);
    await expectCheckClean(path);
    expect((await readImageBytes(path, 'qcow2', scratch.dir)).equals(expected)).toBe(true);
  });

  it('completes partial overlay clusters from the backing chain through readBacking', async () => {
    const size = 8 * MiB + 4 * KiB;
    const baseBytes = randomBytes(random(6), size);
    const baseRaw = join(scratch.dir, 'base.raw');
    await writeFile(baseRaw, baseBytes);
    await execa('qemu-img', ['convert', '-f', 'raw', '-O', 'qcow2', baseRaw, join(scratch.dir, 'base.qcow2')]);
    const path = join(scratch.dir, 'incr.qcow2');
    await using reader = openImageReader(join(scratch.dir, 'base.qcow2'));
    const target = await createQcow2Target({ path, size, backingFile: 'base.qcow2', readBacking: (offset, length) => reader.read(offset, length) });
    const expected = Buffer.from(baseBytes);
    await applyOperations(target, expected, randomOperations(7, size, 512, 80), 8);
    await target.flush();
    await target.close();
    await expectCheckClean(path);
    expect((await readImageBytes(path, 'qcow2', scratch.dir)).equals(expected)).toBe(true);
  });

  it('spans several refcount blocks with small clusters and stays clean over repeated flushes', async () => {
    const size = 24 * MiB;
    const path = join(scratch.dir, 'small-clusters.qcow2');
    const target = await createQcow2Target({ path, size, clusterSize: 4 * KiB });
    const reference = Buffer.alloc(size);
    const operations = randomOperations(4, size, 4 * KiB, 400);
    await applyOperations(target, reference, operations.slice(0, 200), 16);
    await target.flush();
    await expectCheckClean(path);
    await applyOperations(target, reference, operations.slice(200), 16);
    const fill = randomBytes(random(5), size);
    fill.copy(reference);
    await target.write(0, fill);
    await flushCloseAndVerify(target, path, reference, scratch.dir);
  });

  it('rejects bad options and out-of-range requests with coded errors', async () => {
    const path = join(scratch.dir, 'bad.qcow2');
    await expect(createQcow2Target({ path, size: 1000 })).rejects.toMatchObject({ code: 'BP_INVALID_ARGUMENT' });
    await expect(createQcow2Target({ path, size: MiB, clusterSize: 3000 })).rejects.toMatchObject({ code: 'BP_INVALID_ARGUMENT' });
    await expect(createQcow2Target({ path, size: MiB, backingFile: '' })).rejects.toMatchObject({ code: 'BP_INVALID_ARGUMENT' });
    const target = await createQcow2Target({ path, size: MiB });
    await expect(createQcow2Target({ path, size: MiB })).rejects.toMatchObject({ code: 'BP_ALREADY_EXISTS' });
    await expect(target.write(MiB - 512, Buffer.alloc(1024))).rejects.toMatchObject({ code: 'BP_INVALID_ARGUMENT' });
    await target.close();
    await target.close();
    await expect(target.write(0, Buffer.alloc(512))).rejects.toMatchObject({ code: 'BP_INVALID_ARGUMENT' });
    // Closed right after creation: the empty image is valid.
    await expectCheckClean(path);
  });
});
