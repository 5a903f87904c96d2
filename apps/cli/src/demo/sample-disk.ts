import { randomBytes } from 'node:crypto';
import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { BpError } from '@bp/api';
import { execa } from 'execa';

const MiB = 1024 * 1024;

/** A region of the sample disk to fill with fresh random bytes. */
export interface DiskWrite {
  offset: number;
  length: number;
}

async function run(tool: string, args: string[], signal: AbortSignal): Promise<void> {
  try {
    await execa(tool, args, { cancelSignal: signal, stdin: 'ignore' });
  } catch (error) {
    if (signal.aborted) throw new BpError('BP_ABORTED', 'demo interrupted', { cause: error });
    const stderr = (error as { stderr?: string }).stderr ?? (error as Error).message;
    throw new BpError('BP_QEMU_FAILED', `${tool} ${args.join(' ')} failed: ${stderr.trim()}; is QEMU installed (npm run bootstrap)?`, { cause: error });
  }
}

/** Creates an empty qcow2 image of `size` bytes. */
export async function createQcow2(path: string, size: number, signal: AbortSignal): Promise<void> {
  await run('qemu-img', ['create', '-q', '-f', 'qcow2', path, String(size)], signal);
}

/**
 * Writes fresh random bytes into regions of a qcow2 image through qemu-io (so QEMU's persistent
 * dirty bitmaps in the image record the change, as a guest write would).
 */
export async function writeRandomRegions(image: string, regions: readonly DiskWrite[], scratchDir: string, signal: AbortSignal): Promise<number> {
  let written = 0;
  const commands: string[] = [];
  const patterns: string[] = [];
  for (const [index, region] of regions.entries()) {
    const pattern = join(scratchDir, `pattern-${index}.bin`);
    await writeFile(pattern, randomBytes(region.length));
    patterns.push(pattern);
    commands.push('-c', `write -q -s ${pattern} ${region.offset} ${region.length}`);
    written += region.length;
  }
  try {
    await run('qemu-io', ['-f', 'qcow2', ...commands, image], signal);
  } finally {
    await Promise.all(patterns.map((pattern) => rm(pattern, { force: true })));
  }
  return written;
}

/** A raw copy of the image's current content: the reference a restore is compared with. */
export async function snapshotRaw(image: string, target: string, signal: AbortSignal): Promise<void> {
  await run('qemu-img', ['convert', '-f', 'qcow2', '-O', 'raw', image, target], signal);
}

/**
 * The generations of the demo disk: scattered 1-4 MiB regions of random data (the rest stays
 * zero), then two rounds of writes, partly over old data and partly into unused space.
 */
export function demoGenerations(size: number): DiskWrite[][] {
  const at = (fraction: number, length: number): DiskWrite => {
    const offset = Math.floor((size * fraction) / MiB) * MiB;
    return { offset: Math.min(offset, size - length), length };
  };
  return [
    [at(0, 4 * MiB), at(0.1, 2 * MiB), at(0.25, 4 * MiB), at(0.4, 1 * MiB), at(0.55, 4 * MiB), at(0.7, 2 * MiB), at(0.9, 4 * MiB)],
    [at(0.1, 1 * MiB), at(0.33, 2 * MiB), at(0.8, 3 * MiB)],
    [at(0, 1 * MiB), at(0.55, 4 * MiB), at(0.97, 1 * MiB)],
  ];
}
