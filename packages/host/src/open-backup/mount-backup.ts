import { lstat, mkdir, readdir } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { BpError } from '@bp/api';
import { restoreError } from '../restore/restore-source.js';
import { openContainerView } from './container-view.js';
import { kernelMountProblem, mountVolume, SAFE_MOUNT_OPTIONS } from './mount-volume.js';
import { withNewSession, type OpenBackupCommonOptions } from './open-session.js';
import { readDiskLayout } from './partitions.js';
import { isRunning } from '@bp/nbd/qemu';
import { defaultStateDir, listRecords, saveRecord } from './session-record.js';
import type { Session } from './session.js';
import { releaseSession, type StorageOpener } from './teardown.js';
import { runTool } from './run-tool.js';
import { openVmViews } from './vm-views.js';

/** Options of {@link mountBackup}. */
export interface MountBackupOptions extends OpenBackupCommonOptions {
  /** A new or empty directory. */
  target: string;
  /** Mount only this VM disk; default every disk. */
  disk?: string;
}

/** One mounted filesystem. */
export interface MountedVolume {
  virtdev?: string;
  volume: string;
  fsType: string;
  path: string;
}

/** The result of {@link mountBackup}. */
export interface MountedBackup {
  target: string;
  mounted: MountedVolume[];
  /** Volumes that were not mounted, and why. */
  skipped: Array<{ virtdev?: string; volume: string; reason: string }>;
}

async function createDir(session: Session, dir: string): Promise<void> {
  if (await lstat(dir).then(() => true, () => false)) return;
  await createDir(session, dirname(dir));
  await session.update((record) => {
    record.createdDirs.push(dir);
  });
  await mkdir(dir);
}

/**
 * Mounts a restore point read-only below `target` and leaves it mounted (until
 * {@link unmountBackup}): VM disks as `<target>/<virtdev>/part<N>` (a whole-disk filesystem as
 * `<target>/<virtdev>`), a container's directory view (squashfs) at `<target>`. Every mount is
 * `ro,nodev,nosuid,noexec` without journal replay. Container tar archives cannot be mounted
 * (list and restore them with {@link openBackupFiles}).
 */
export async function mountBackup(options: MountBackupOptions): Promise<MountedBackup> {
  const target = resolve(options.target);
  const log = options.log ?? (() => {});
  const entries = await readdir(target).catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT') return [];
    throw error;
  });
  if (entries.length > 0) throw new BpError('BP_ALREADY_EXISTS', `${target} is not empty; mount into a new or empty directory`);
  try {
    return await withNewSession(options, 'mount', async (session, volname) => {
      await session.update((record) => {
        record.target = target;
        record.mountRoots.push(target);
      });
      await createDir(session, target);
      const result: MountedBackup = { target, mounted: [], skipped: [] };
      const vmtype = ((await options.storage.newBackupProvider(log).restoreGetMechanism(volname)) as { vmtype?: string }).vmtype;
      if (vmtype === 'lxc') {
        const view = await openContainerView(session, options.storage, volname, log, options.signal);
        if (view.kind === 'tar') throw new BpError('BP_NOT_SUPPORTED', `${options.volid} is a tar archive, which cannot be mounted; list it with \`bp files\` and restore single paths with \`bp restore --path\``);
        await runTool('mount', ['--bind', view.directory, target], 'BP_MOUNT_FAILED', `mounting the container tree at ${target}`);
        await runTool('mount', ['-o', `remount,bind,${SAFE_MOUNT_OPTIONS.join(',')}`, target], 'BP_MOUNT_FAILED', `making ${target} read-only`);
        result.mounted.push({ volume: 'rootfs', fsType: 'directory', path: target });
      } else {
        const { disks } = await openVmViews(session, options.storage, volname, options.disk, log);
        for (const disk of disks) {
          const layout = await readDiskLayout(disk.path, disk.size);
          if (layout.volumes.length === 0) result.skipped.push({ virtdev: disk.virtdev, volume: 'disk', reason: 'no partition table and no filesystem recognised' });
          for (const volume of layout.volumes) {
            const problem = await kernelMountProblem(volume);
            if (problem !== undefined) {
              result.skipped.push({ virtdev: disk.virtdev, volume: volume.name, reason: problem });
              continue;
            }
            const path = layout.table === 'none' ? join(target, disk.virtdev) : join(target, disk.virtdev, volume.name);
            await createDir(session, path);
            await mountVolume(disk.path, volume, path, options.signal);
            result.mounted.push({ virtdev: disk.virtdev, volume: volume.name, fsType: volume.fsType!, path });
          }
        }
      }
      // From now on the mounts outlive this process on purpose.
      await session.update((record) => {
        record.detached = true;
      });
      return result;
    });
  } catch (error) {
    throw restoreError(error, `mounting ${options.volid}`);
  }
}

/** Options of {@link unmountBackup}. */
export interface UnmountBackupOptions {
  target: string;
  stateDir?: string;
  /** Opens the storage of a mount, for the provider's restore cleanup. */
  openStorage: StorageOpener;
  log?: (level: 'info' | 'warn' | 'err', message: string) => void;
}

/**
 * Unmounts what {@link mountBackup} mounted at `target` — also when the mounting process was
 * killed half-way — and releases the provider's views. Returns the number of sessions released.
 */
export async function unmountBackup(options: UnmountBackupOptions): Promise<number> {
  const target = resolve(options.target);
  const stateDir = options.stateDir ?? defaultStateDir();
  const records = (await listRecords(stateDir)).filter((record) => record.kind === 'mount' && record.target === target);
  if (records.length === 0) throw new BpError('BP_NOT_FOUND', `nothing bp mounted is at ${target}; \`bp mount\` lists where it mounts`);
  for (const record of records) {
    if (!record.detached && (await isRunning(record.owner))) {
      throw new BpError('BP_LOCKED', `bp process ${record.owner.pid} is still mounting at ${target}; wait for it or stop it first`);
    }
    const storage = await options.openStorage(record.storeId).catch(() => undefined);
    // Mark it as not detached first: an interrupted unmount is finished by the next command.
    record.detached = false;
    await saveRecord(stateDir, record);
    await releaseSession(stateDir, record, { ...(storage ? { storage } : {}), ...(options.log ? { log: options.log } : {}) });
  }
  return records.length;
}
