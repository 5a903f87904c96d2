import { mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { DiskRegion } from '@bp/api';
import { execa } from 'execa';
import { expect } from 'vitest';
import { parseDirtyMapLine } from '../../src/vm/index.js';

export const KiB = 1024;
export const MiB = 1024 * 1024;

/** A unique scratch directory for one test. */
export async function scratchDir(): Promise<{ dir: string; workDir: string; remove: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), 'bp-host-vm-'));
  return { dir, workDir: join(dir, 'work'), remove: () => rm(dir, { recursive: true, force: true }) };
}

/** Creates an image and fills it with a recognisable pattern per MiB (qemu-io). */
export async function createPatternImage(path: string, format: 'qcow2' | 'raw', size: number): Promise<void> {
  await execa('qemu-img', ['create', '-q', '-f', format, path, String(size)]);
  const commands = [];
  for (let offset = 0; offset < size; offset += 2 * MiB) commands.push('-c', `write -P ${String(0x10 + offset / (2 * MiB))} ${String(offset)} ${String(Math.min(MiB, size - offset))}`);
  await execa('qemu-io', ['-f', format, ...commands, path]);
}

/** The guest-visible bytes of an image or NBD export (qemu-img convert to raw). */
export async function readBytes(source: string, format: 'qcow2' | 'raw', scratch: string, forceShare = false): Promise<Buffer> {
  const out = join(scratch, `read-${String(process.hrtime.bigint())}.raw`);
  await execa('qemu-img', ['convert', ...(forceShare ? ['-U'] : []), '-f', format, '-O', 'raw', source, out]);
  try {
    return await readFile(out);
  } finally {
    await rm(out, { force: true });
  }
}

/** Writes `pattern` over `[offset, offset+length)` of an NBD export with qemu-io. */
export async function writeThrough(uri: string, pattern: number, offset: number, length: number): Promise<void> {
  await execa('qemu-io', ['-f', 'raw', '-c', `write -P ${String(pattern)} ${String(offset)} ${String(length)}`, uri]);
}

/** Reads a range of an NBD export; resolves false if the server refuses it. */
export async function canRead(uri: string, offset: number, length: number): Promise<boolean> {
  const result = await execa('qemu-io', ['-f', 'raw', '-c', `read ${String(offset)} ${String(length)}`, uri], { reject: false });
  return !result.failed && !/failed/i.test(result.stdout + result.stderr);
}

/** Dirty extents of an export's bitmap context, merged where adjacent. */
export async function dirtyExtents(uri: string, bitmapName: string): Promise<DiskRegion[]> {
  const { stdout } = await execa('nbdinfo', [`--map=qemu:dirty-bitmap:${bitmapName}`, uri]);
  const regions: DiskRegion[] = [];
  for (const line of stdout.split('\n')) {
    const region = parseDirtyMapLine(line);
    if (!region) continue;
    const last = regions.at(-1);
    if (last && last.offset + last.length === region.offset) last.length += region.length;
    else regions.push({ ...region });
  }
  return regions;
}

/** `buffer` with `[offset, offset+length)` set to `pattern`. */
export function withPattern(buffer: Buffer, pattern: number, offset: number, length: number): Buffer {
  const copy = Buffer.from(buffer);
  copy.fill(pattern, offset, offset + length);
  return copy;
}

/** Pids of live (non-zombie) child processes of this process. */
export async function liveChildren(): Promise<number[]> {
  const pids: number[] = [];
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = await readFile(`/proc/${entry}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(fields[1]) === process.pid && fields[0] !== 'Z') pids.push(Number(entry));
    } catch {
      // Exited meanwhile.
    }
  }
  return pids;
}

/** Asserts nothing of an access or VM is left: no children (but `keptPids`), no mounts below `dir`, `workDir` empty. */
export async function expectNoLeaks(dir: string, workDir: string, keptPids: number[] = []): Promise<void> {
  expect((await liveChildren()).filter((pid) => !keptPids.includes(pid))).toEqual([]);
  const mounts = await readFile('/proc/mounts', 'utf8');
  expect(mounts.split('\n').filter((line) => line.includes(dir))).toEqual([]);
  const left = await readdir(workDir).catch(() => []);
  expect(left).toEqual([]);
}

/** Allocated bytes of the fleecing image of scsi0 in the active access below `workDir`. */
export async function fleecingAllocation(workDir: string): Promise<number> {
  const [vmDir] = await readdir(workDir);
  const vmPath = join(workDir, vmDir ?? '');
  const [accessDir] = (await readdir(vmPath)).filter((name) => name.startsWith('access-'));
  return (await stat(join(vmPath, accessDir ?? '', 'bp-scsi0-fleece.qcow2'))).blocks * 512;
}
