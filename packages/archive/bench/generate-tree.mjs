// Generates the benchmark tree: many small files plus a few large ones, random (incompressible)
// content, reused across runs when the marker file says it is complete.
import { randomFillSync } from 'node:crypto';
import { mkdir, readFile, rm, writeFile, open } from 'node:fs/promises';
import { join } from 'node:path';

const MiB = 1024 * 1024;

/** Creates `root` with about `totalBytes` of data; returns { files, bytes }. */
export async function generateTree(root, totalBytes) {
  const marker = join(root, '.bench-complete');
  const existing = await readFile(marker, 'utf8').catch(() => undefined);
  if (existing) {
    const facts = JSON.parse(existing);
    if (facts.totalBytes === totalBytes) return facts;
  }
  await rm(root, { recursive: true, force: true });
  const pool = randomFillSync(Buffer.alloc(64 * MiB));
  let cursor = 0;
  const take = (length) => {
    if (cursor + length > pool.length) cursor = 0;
    const slice = pool.subarray(cursor, cursor + length);
    cursor += length + 4099;
    return slice;
  };
  const largeCount = 3;
  const largeBytes = Math.floor((totalBytes * 0.65) / largeCount / MiB) * MiB;
  let files = 0;
  let bytes = 0;
  await mkdir(join(root, 'large'), { recursive: true });
  for (let index = 0; index < largeCount; index++) {
    const handle = await open(join(root, 'large', `big-${index}.bin`), 'w');
    for (let written = 0; written < largeBytes; written += 8 * MiB) await handle.write(take(8 * MiB));
    await handle.close();
    files++;
    bytes += largeBytes;
  }
  const smallBudget = totalBytes - bytes;
  for (let directory = 0; bytes < totalBytes - 4096 && bytes - largeBytes * largeCount < smallBudget; directory++) {
    const dir = join(root, 'small', `d${String(directory).padStart(4, '0')}`);
    await mkdir(dir, { recursive: true });
    for (let index = 0; index < 200 && bytes < totalBytes; index++) {
      // 1 KiB .. 64 KiB, skewed small like a real root filesystem.
      const size = 1024 + Math.floor(Math.random() ** 2 * 63 * 1024);
      await writeFile(join(dir, `f${index}.dat`), take(size));
      files++;
      bytes += size;
    }
  }
  const facts = { totalBytes, files, bytes, rateFile: 'large/big-0.bin', rateBytes: largeBytes };
  await writeFile(marker, JSON.stringify(facts));
  return facts;
}
