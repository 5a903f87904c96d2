import { readFile } from 'node:fs/promises';
import { BpError } from '@bp/api';
import type { DiskVolume } from './partitions.js';
import { runTool } from './run-tool.js';

/** Options every mount of a backup gets: read-only, no devices, no set-uid, nothing executable. */
export const SAFE_MOUNT_OPTIONS = ['ro', 'nodev', 'nosuid', 'noexec'] as const;

/**
 * Per filesystem, the options that keep the kernel from writing to the image: no journal
 * replay (ext3/4 `noload`, xfs `norecovery`); xfs `nouuid` so a backup mounts beside its live
 * filesystem or another generation.
 */
const NO_WRITE_OPTIONS: Record<string, readonly string[]> = {
  ext2: [],
  ext3: ['noload'],
  ext4: ['noload'],
  xfs: ['norecovery', 'nouuid'],
  vfat: [],
};

/** Filesystems the kernel of this machine can mount. */
async function kernelFilesystems(): Promise<Set<string>> {
  const text = await readFile('/proc/filesystems', 'utf8').catch(() => '');
  return new Set(text.split('\n').map((line) => line.trim().split(/\s+/).pop() ?? '').filter(Boolean));
}

/** Why a volume cannot be mounted by the kernel here, or undefined when it can. */
export async function kernelMountProblem(volume: DiskVolume): Promise<string | undefined> {
  if (volume.fsType === undefined) return 'no filesystem recognised';
  if (!(volume.fsType in NO_WRITE_OPTIONS)) return `filesystem ${volume.fsType} is not supported (ext2/3/4, xfs, vfat are)`;
  if (!(await kernelFilesystems()).has(volume.fsType)) return `this kernel has no ${volume.fsType} driver`;
  return undefined;
}

/**
 * Mounts one volume of a read-only disk view at `mountPoint` through a loop device limited to
 * the volume (`offset`/`sizelimit`, read-only, cleared on unmount). A hostile filesystem can at
 * worst fail this mount: it is mounted read-only with nodev, nosuid, noexec and no journal replay.
 */
export async function mountVolume(view: string, volume: DiskVolume, mountPoint: string, signal?: AbortSignal): Promise<void> {
  const problem = await kernelMountProblem(volume);
  if (problem !== undefined) throw new BpError('BP_NOT_SUPPORTED', `${volume.name} cannot be mounted: ${problem}`, { details: { volume: volume.name, fsType: volume.fsType } });
  const options = ['loop', `offset=${volume.offset}`, `sizelimit=${volume.size}`, ...SAFE_MOUNT_OPTIONS, ...NO_WRITE_OPTIONS[volume.fsType!]!];
  await runTool('mount', ['-t', volume.fsType!, '-o', options.join(','), view, mountPoint], 'BP_MOUNT_FAILED', `mounting ${volume.name} (${volume.fsType})`, signal ? { signal } : {});
}
