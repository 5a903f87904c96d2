import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { BpError, pruneBackups as markPrune, type PruneBackupsOptions, type PruneResultEntry } from '@bp/api';
import { FILES } from '../layout/index.js';
import { exists } from '../util/durable-fs.js';
import { isAbandoned, listPartialBackups, type BackupState } from '../state/backup-state.js';
import { withGuestLock } from '../state/guest-lock.js';
import { removeAbandonedBackups } from './abandoned.js';
import { guestIds, scanBackups, type FoundBackup } from './backup-scan.js';
import { basesInUse, removeBackupMerging } from './chain-merge.js';
import type { DirStorageView } from './storage-view.js';

/** Backups being written whose data is complete (backupVm / backupContainer returned). */
async function completeBackupsInProgress(storage: DirStorageView, vmids: readonly number[]): Promise<BackupState[]> {
  const states: BackupState[] = [];
  for (const vmid of vmids) {
    for (const { state } of await listPartialBackups(storage.layout.guestDir(vmid))) if ((state.vmDone || state.containerDone) && !isAbandoned(state)) states.push(state);
  }
  return states;
}

/** Removes the logs of failed attempts of a guest (of one type, plus those without a name). */
async function clearFailedLogs(storage: DirStorageView, vmid: number, type?: string): Promise<void> {
  for (const log of await storage.failedLogs(vmid)) {
    const dir = join(log, '..');
    const name = dir.split('/').pop() ?? '';
    if (type === undefined || name.startsWith(`${type}-`) || name.startsWith('unnamed-')) await rm(dir, { recursive: true, force: true });
  }
}

/** `<type>-<time>` of an archive name. */
function dirNameOf(archiveName: string): string {
  return archiveName.slice(archiveName.indexOf('/') + 1);
}

/**
 * PVE `prune_backups` for the directory storage: marks from @bp/api's `pruneBackups` (PVE's
 * `prune_mark_backup_group`), made chain-aware:
 * - a backup whose data is complete but not yet published counts as kept (vzdump prunes before
 *   `backupCleanup(true)`), so `keep-last=N` keeps N;
 * - a base of a backup in progress is kept, with a note;
 * - a removed backup that kept backups build on is merged into them (the note says where).
 * Unless `dryRun`, removes the `remove` entries newest first under the guest lock, then clears
 * failed-attempt logs and abandoned partial backups. Failures are logged (`err`) and reported at
 * the end as BP_BACKUP_FAILED, as PVE's "error pruning backups - check log".
 */
export async function pruneDirStorage(storage: DirStorageView, keep: string | Record<string, number | boolean>, options: PruneBackupsOptions = {}): Promise<PruneResultEntry[]> {
  const vmids = options.vmid === undefined ? await guestIds(storage.config.path) : [options.vmid];
  const backups = await scanBackups(storage.config.path, options.vmid);
  const byVolid = new Map(backups.map((backup) => [storage.volid(backup.archiveName), backup]));
  const entries = backups.map((backup) => ({ volid: storage.volid(backup.archiveName), ctime: backup.ctime, vmid: backup.vmid, type: backup.vmtype, protected: backup.protected }));
  const inProgress = await completeBackupsInProgress(storage, vmids);
  for (const state of inProgress) {
    // vzdump sets `protected` before pruning, on the backup still being written.
    const isProtected = await exists(join(storage.layout.partialDir(state.archiveName), FILES.protected));
    entries.push({ volid: storage.volid(state.archiveName), ctime: state.startTime, vmid: state.vmid, type: state.vmtype, protected: isProtected });
  }
  const inProgressVolids = new Set(inProgress.map((state) => storage.volid(state.archiveName)));
  const marked = markPrune(entries, keep, { ...(options.vmid === undefined ? {} : { vmid: options.vmid }), ...(options.type === undefined ? {} : { type: options.type }) });
  const removed = new Set(marked.filter((entry) => entry.mark === 'remove').map((entry) => entry.volid));
  const inUse = new Map<number, Set<string>>();
  for (const vmid of new Set(marked.map((entry) => entry.vmid))) inUse.set(vmid, await basesInUse(storage.layout.guestDir(vmid)));

  const result: PruneResultEntry[] = marked.map(({ volid, ctime, vmid, type, mark }) => {
    const entry: PruneResultEntry = { volid, ctime, vmid, type, mark };
    if (inProgressVolids.has(volid)) return { ...entry, mark: mark === 'protected' ? mark : 'keep', note: 'in progress' };
    const backup = byVolid.get(volid);
    if (mark !== 'remove' || !backup) return entry;
    const dirName = dirNameOf(backup.archiveName);
    if (inUse.get(vmid)?.has(dirName)) return { ...entry, mark: 'keep', note: 'kept: base of a backup in progress' };
    const keptDependants = backups.filter((other) => other.vmid === vmid && other.bases.includes(dirName) && !removed.has(storage.volid(other.archiveName)));
    if (keptDependants.length > 0) entry.note = `merged into ${keptDependants.map((other) => storage.volid(other.archiveName)).join(', ')}`;
    return entry;
  });
  if (options.dryRun) return result;

  const errors: string[] = [];
  for (const entry of result.filter((candidate) => candidate.mark === 'remove').sort((a, b) => b.ctime - a.ctime)) {
    const backup = byVolid.get(entry.volid) as FoundBackup;
    options.log?.('info', `removing backup '${entry.volid}'${entry.note ? ` (${entry.note})` : ''}`);
    try {
      await withGuestLock(storage.layout.lockTarget(backup.vmid), () => removeBackupMerging(storage.layout.guestDir(backup.vmid), dirNameOf(backup.archiveName)));
    } catch (error) {
      errors.push(entry.volid);
      options.log?.('err', `error when removing backup '${entry.volid}' - ${(error as Error).message}`);
    }
  }
  for (const vmid of vmids) {
    await clearFailedLogs(storage, vmid, options.type);
    const abandoned = await withGuestLock(storage.layout.lockTarget(vmid), () => removeAbandonedBackups(storage.layout.guestDir(vmid)));
    for (const name of abandoned) options.log?.('info', `removed abandoned partial backup '${storage.volid(name)}'`);
  }
  if (errors.length > 0) throw new BpError('BP_BACKUP_FAILED', `error pruning backups (${errors.join(', ')}) - check the log`, { details: { volids: errors } });
  return result;
}
