import { randomBytes } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { execa } from 'execa';

/** Creates a qcow2 image (optionally backed by `backing`). */
export async function createQcow2(path: string, size: number | string, backing?: string): Promise<void> {
  const args = ['create', '-q', '-f', 'qcow2'];
  if (backing) args.push('-b', backing, '-F', 'qcow2');
  args.push(path, String(size));
  await execa('qemu-img', args);
}

/** Runs qemu-io commands on an image. */
export async function qemuIo(path: string, commands: string[], format = 'qcow2'): Promise<void> {
  await execa('qemu-io', ['-f', format, ...commands.flatMap((command) => ['-c', command]), path]);
}

/** Writes random data at `offset` with qemu-io and returns the bytes written. */
export async function writeRandom(path: string, offset: number, length: number, scratch: string): Promise<Buffer> {
  const data = randomBytes(length);
  await writeFile(scratch, data);
  await execa('qemu-io', ['-f', 'qcow2', '-c', `write -s ${scratch} ${offset} ${length}`, path]);
  return data;
}

/** The guest-visible bytes of an image, as raw. */
export async function readImage(path: string, raw: string, format = 'qcow2'): Promise<Buffer> {
  await execa('qemu-img', ['convert', '-f', format, '-O', 'raw', path, raw]);
  return readFile(raw);
}

/** Virtual size of an image. */
export async function virtualSize(path: string, format = 'qcow2'): Promise<number> {
  const { stdout } = await execa('qemu-img', ['info', '--output=json', '-f', format, path]);
  return (JSON.parse(stdout) as { 'virtual-size': number })['virtual-size'];
}

/** True when both images have the same virtual size and `qemu-img compare` finds equal content. */
export async function imagesEqual(a: string, b: string, formatA = 'qcow2', formatB = 'qcow2'): Promise<boolean> {
  if ((await virtualSize(a, formatA)) !== (await virtualSize(b, formatB))) return false;
  const result = await execa('qemu-img', ['compare', '-f', formatA, '-F', formatB, a, b], { reject: false });
  if (result.exitCode !== 0 && result.exitCode !== 1) throw new Error(`qemu-img compare failed: ${result.stderr}`);
  return result.exitCode === 0;
}
