import { chown, lchown, readdir, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { BpError, type BackupCleanupResult, type LogFunction } from '@bp/api';
import { FILES, type StorageLayout } from '../layout/index.js';
import { readBackupState } from '../state/backup-state.js';
import { withGuestLock } from '../state/guest-lock.js';
import { writeLogHandoff } from '../state/log-handoff.js';
import { forgetPrevious, readPreviousInfo, writePreviousInfo } from '../state/previous-info.js';
import { deviceImages, directoryBytes } from '../storage/backup-scan.js';
import { exists, fsyncPath } from '../util/durable-fs.js';
import { writeManifest } from '../verify/manifest.js';
import { readStoredChecksums } from '../verify/stored-checksums.js';

/**
 * Makes a complete backup visible (backupCleanup(true)): files back to root, manifest, fsync,
 * rename of the partial directory, then previous-info and the log hand-off, under the guest lock.
 * Idempotent: a second call finds the published directory.
 */
export async function publishBackup(layout: StorageLayout, vmid: number, archiveName: string, log: LogFunction): Promise<BackupCleanupResult> {
  const partial = layout.partialDir(archiveName);
  const final = layout.backupDir(archiveName);
  return withGuestLock(layout.lockTarget(vmid), async () => {
    if (!(await exists(partial))) {
      if (await exists(final)) return { stats: { archiveSize: await directoryBytes(final) } };
      throw new BpError('BP_BACKUP_FAILED', `backup ${archiveName} has disappeared before it was published`);
    }
    const state = await readBackupState(partial);
    const complete = state?.vmtype === 'qemu' ? state.vmDone : state?.containerDone;
    if (!state || !complete) throw new BpError('BP_BACKUP_FAILED', `backup ${archiveName} has no complete data; it cannot be published`);
    // Read before ownership changes: only entries this process's user wrote count.
    const known = await readStoredChecksums(partial);
    // Files the container's mapped root wrote become root's again once published.
    for (const name of await readdir(partial)) await lchown(join(partial, name), 0, 0).catch(() => undefined);
    await chown(partial, 0, 0).catch(() => undefined);
    await writeManifest(partial, known);
    await rm(join(partial, FILES.checksums), { recursive: true, force: true });
    await rm(join(partial, FILES.state), { force: true });
    await fsyncPath(partial);
    await rename(partial, final);
    await fsyncPath(layout.guestDir(vmid));
    if (state.written && Object.keys(state.written).length > 0) {
      const previousPath = layout.previousInfoPath(vmid);
      try {
        await writePreviousInfo(previousPath, { ...(await readPreviousInfo(previousPath)), ...state.written });
      } catch (error) {
        log('warn', `could not record previous-info (${(error as Error).message}); the next backup will be full`);
      }
    }
    await writeLogHandoff(layout.guestDir(vmid), { ownerPid: process.pid, archiveName, published: true });
    return { stats: { archiveSize: await directoryBytes(final) } };
  });
}

/**
 * Removes a failed guest backup (backupCleanup(false)), published or not: nothing stays listed.
 * If backupVm had returned, QEMU reset its bitmap (hazard H1), so previous-info of every device
 * written here is dropped: the next run answers `new` instead of building an incomplete
 * incremental on an older base.
 */
export async function discardBackup(layout: StorageLayout, vmid: number, archiveName: string, log: LogFunction): Promise<void> {
  const partial = layout.partialDir(archiveName);
  const final = layout.backupDir(archiveName);
  await withGuestLock(layout.lockTarget(vmid), async () => {
    const state = await readBackupState(partial);
    const devices = new Set<string>(state?.vmDone ? Object.keys(state.written ?? {}) : []);
    const published = await exists(final);
    if (published) for (const device of (await deviceImages(final)).keys()) devices.add(device);
    await forgetPrevious(layout.previousInfoPath(vmid), { devices });
    if (devices.size > 0) log('warn', `backup ${archiveName} failed after its data was stored; the next backup of ${[...devices].join(', ')} will be full`);
    await rm(partial, { recursive: true, force: true });
    if (published) await rm(final, { recursive: true, force: true });
    await writeLogHandoff(layout.guestDir(vmid), { ownerPid: process.pid, archiveName, published: false });
  });
}
