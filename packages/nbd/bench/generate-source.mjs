// Deterministic benchmark source: a qcow2 with ~50 % random data in extents of 64 KiB–64 MiB,
// ~10 % explicit zeroes, the rest holes, plus persistent bitmaps marking ~1 % (b0) and ~4 % (b4) dirty.
import { createCipheriv, createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { open, rm, writeFile } from 'node:fs/promises';
import { execa } from 'execa';

const KiB = 1024;
const GRANULE = 64 * KiB;

/** mulberry32: a small seeded PRNG returning floats in [0, 1). */
export function prng(seed) {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Deterministic pseudo-random bytes for `offset` (AES-128-CTR keystream keyed by the seed). */
function randomData(seed, offset, length) {
  const key = createHash('sha256').update(`bp-bench-${seed}`).digest().subarray(0, 16);
  const iv = Buffer.alloc(16);
  iv.writeBigUInt64BE(BigInt(offset), 8);
  return createCipheriv('aes-128-ctr', key, iv).update(Buffer.alloc(length));
}

/** Log-uniform extent length between `min` and `max`, granule-aligned. */
function extentLength(random, min, max) {
  const exponent = Math.log2(min) + random() * (Math.log2(max) - Math.log2(min));
  return Math.max(min, Math.floor(2 ** exponent / GRANULE) * GRANULE);
}

/** The layout: [{ offset, length, kind: 'data' | 'zero' | 'hole' }]. */
export function sourceLayout(size, seed) {
  const random = prng(seed);
  const layout = [];
  for (let offset = 0; offset < size; ) {
    const length = Math.min(size - offset, extentLength(random, 64 * KiB, 64 * 1024 * KiB));
    const pick = random();
    layout.push({ offset, length, kind: pick < 0.5 ? 'data' : pick < 0.6 ? 'zero' : 'hole' });
    offset += length;
  }
  return layout;
}

/**
 * Non-overlapping extents of `minLength`–`maxLength` (log-uniform, granule-aligned, at least one
 * clean granule apart) inside the first `span` bytes, `total` bytes in all: [{ offset, length }]
 * by offset.
 */
export function scatteredExtents(span, total, seed, minLength, maxLength) {
  const random = prng(seed);
  const extents = [];
  let sum = 0;
  const taken = new Set();
  while (sum < total) {
    const length = extentLength(random, minLength, maxLength);
    const offset = Math.floor((random() * (span - length)) / GRANULE) * GRANULE;
    const first = offset / GRANULE;
    const last = (offset + length) / GRANULE;
    let free = true;
    for (let g = first - 1; g <= last && free; g++) free = !taken.has(g);
    if (!free) continue;
    for (let g = first; g < last; g++) taken.add(g);
    extents.push({ offset, length });
    sum += length;
  }
  return extents.sort((a, b) => a.offset - b.offset);
}

/** Dirty extents covering ~`fraction` of the disk, 64 KiB–4 MiB each, not overlapping. */
export function dirtyLayout(size, seed, fraction) {
  return scatteredExtents(size, size * fraction, seed ^ 0x5bd1e995, 64 * KiB, 4096 * KiB);
}

/**
 * Creates (or reuses) the source image at `path` with two persistent bitmaps: `b4` marks ~4 %
 * dirty, `b0` (added later) ~1 %. `basePath(bitmap)` receives the disk as it was when that
 * bitmap was added: the previous full backup an incremental of that bitmap applies to.
 * Returns the layout facts.
 */
export async function generateSource(path, basePath, size, seed) {
  const layout = sourceLayout(size, seed);
  // Every fourth extent of the 4 % set is written after b0 is added: b0 ≈ 1 %, b4 = all of it.
  const dirty4 = dirtyLayout(size, seed, 0.04);
  const dirty1 = dirty4.filter((_, index) => index % 4 === 3);
  const early = dirty4.filter((_, index) => index % 4 !== 3);
  if (![path, basePath('b0'), basePath('b4')].every((file) => existsSync(file))) {
    const raw = `${path}.raw`;
    const file = await open(raw, 'w');
    try {
      await file.truncate(size);
      for (const extent of layout) {
        if (extent.kind !== 'data') continue;
        for (let at = 0; at < extent.length; at += 16 * 1024 * KiB) {
          const length = Math.min(16 * 1024 * KiB, extent.length - at);
          await file.write(randomData(seed, extent.offset + at, length), 0, length, extent.offset + at);
        }
      }
    } finally {
      await file.close();
    }
    const partial = `${path}.partial`;
    await execa('qemu-img', ['convert', '-f', 'raw', '-O', 'qcow2', raw, partial]);
    await rm(raw);
    const zeroCommands = layout.filter((extent) => extent.kind === 'zero').flatMap((extent) => ['-c', `write -z ${extent.offset} ${extent.length}`]);
    if (zeroCommands.length > 0) await execa('qemu-io', ['-f', 'qcow2', ...zeroCommands, partial]);
    const pattern = `${path}.pattern`;
    await writeFile(pattern, randomData(seed + 1, 0, 4096 * KiB));
    const writeDirty = async (extents) => {
      // Non-zero data, so every dirty byte must really be copied.
      const commands = extents.flatMap((extent) => ['-c', `write -s ${pattern} ${extent.offset} ${extent.length}`]);
      if (commands.length > 0) await execa('qemu-io', ['-f', 'qcow2', ...commands, partial]);
    };
    await execa('qemu-img', ['convert', '-f', 'qcow2', '-O', 'qcow2', partial, basePath('b4')]);
    await execa('qemu-img', ['bitmap', '--add', partial, 'b4']);
    await writeDirty(early);
    await execa('qemu-img', ['convert', '-f', 'qcow2', '-O', 'qcow2', partial, basePath('b0')]);
    await execa('qemu-img', ['bitmap', '--add', partial, 'b0']);
    await writeDirty(dirty1);
    await rm(pattern);
    await execa('mv', [partial, path]);
  }
  const bytes = (kind) => layout.filter((extent) => extent.kind === kind).reduce((sum, extent) => sum + extent.length, 0);
  const sum = (extents) => extents.reduce((total, extent) => total + extent.length, 0);
  return {
    dataBytes: bytes('data'),
    zeroBytes: bytes('zero'),
    dirty: { b0: { bytes: sum(dirty1), extents: dirty1.length }, b4: { bytes: sum(dirty4), extents: dirty4.length } },
  };
}
