import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterEach, beforeEach } from 'vitest';

/** True while a process with this pid exists (zombies included). Test helper. */
export function processExists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** A unique scratch directory for one test, removed by the returned function. Test helper. */
export async function scratchDir(prefix: string): Promise<{ dir: string; remove: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), `${prefix}-`));
  return { dir, remove: () => rm(dir, { recursive: true, force: true }) };
}

/** Registers hooks that give every test of the enclosing suite a fresh scratch directory. Test helper. */
export function useScratchDir(prefix: string): { readonly dir: string } {
  let current: Awaited<ReturnType<typeof scratchDir>> | undefined;
  beforeEach(async () => {
    current = await scratchDir(prefix);
  });
  afterEach(async () => {
    await current?.remove();
    current = undefined;
  });
  return {
    get dir() {
      if (!current) throw new Error('scratch directory used outside a test');
      return current.dir;
    },
  };
}

/** Creates an image with qemu-img. Test helper. */
export async function qemuImgCreate(path: string, format: 'qcow2' | 'raw', size: number | string, extra: string[] = []): Promise<void> {
  await execa('qemu-img', ['create', '-q', '-f', format, ...extra, path, String(size)]);
}

/** Creates a qcow2 whose every byte is `pattern`. Test helper. */
export async function patternedQcow2(path: string, size: number, pattern: number): Promise<void> {
  await qemuImgCreate(path, 'qcow2', size);
  await execa('qemu-io', ['-f', 'qcow2', '-c', `write -P ${String(pattern)} 0 ${String(size)}`, path]);
}

/** Reads an image's guest-visible bytes by converting it to raw. Test helper. */
export async function readImageBytes(path: string, format: 'qcow2' | 'raw', scratch: string): Promise<Buffer> {
  const { readFile } = await import('node:fs/promises');
  const out = join(scratch, `read-${String(Date.now())}-${String(Math.random()).slice(2)}.raw`);
  await execa('qemu-img', ['convert', '-f', format, '-O', 'raw', path, out]);
  try {
    return await readFile(out);
  } finally {
    await rm(out, { force: true });
  }
}
