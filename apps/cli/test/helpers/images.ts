import { randomBytes } from 'node:crypto';
import { rm, writeFile } from 'node:fs/promises';
import { execa } from 'execa';

/** Creates a qcow2 image of `sizeMiB` MiB. */
export async function createQcow2(path: string, sizeMiB: number): Promise<void> {
  await execa('qemu-img', ['create', '-q', '-f', 'qcow2', path, `${sizeMiB}M`]);
}

/** Writes fresh random bytes at `offsetMiB` (length `lengthMiB`) through qemu-io. */
export async function writeRandom(image: string, offsetMiB: number, lengthMiB: number): Promise<void> {
  const pattern = `${image}.pattern`;
  await writeFile(pattern, randomBytes(lengthMiB * 1024 * 1024));
  try {
    await execa('qemu-io', ['-f', 'qcow2', '-c', `write -q -s ${pattern} ${offsetMiB}M ${lengthMiB}M`, image]);
  } finally {
    await rm(pattern, { force: true });
  }
}

/** A raw copy of an image's current content. */
export async function snapshotRaw(image: string, target: string): Promise<void> {
  await execa('qemu-img', ['convert', '-f', 'qcow2', '-O', 'raw', image, target]);
}

/** True when both images have the same guest-visible bytes (`qemu-img compare`). */
export async function sameContent(expected: string, actual: string): Promise<boolean> {
  const result = await execa('qemu-img', ['compare', expected, actual], { reject: false });
  if (result.exitCode !== 0 && result.exitCode !== 1) throw new Error(`qemu-img compare failed: ${result.stderr}`);
  return result.exitCode === 0;
}
