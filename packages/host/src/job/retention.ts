import { BpError, keepsAll, parsePruneOptions, formatPruneOptions, type BackupStorage, type GuestType, type PruneOptions, type PruneOptionsInput } from '@bp/api';
import type { TaskLog } from './task-log.js';

function storageOption(storage: BackupStorage, key: string): unknown {
  const config = storage.config;
  return typeof config === 'object' && config !== null ? (config as Record<string, unknown>)[key] : undefined;
}

/**
 * The job's retention: the job's own `prune` option, else the storage's `prune-backups`, else
 * vzdump's default keep-all. Returns undefined when nothing is to be pruned (keep-all).
 */
export function resolvePruneOptions(jobPrune: PruneOptionsInput | undefined, storage: BackupStorage): PruneOptions | undefined {
  const input = jobPrune ?? (storageOption(storage, 'prune-backups') as PruneOptionsInput | undefined);
  if (input === undefined) return undefined;
  const options = parsePruneOptions(input);
  return keepsAll(options) ? undefined : options;
}

/**
 * vzdump's limit check before a `--protected` backup (exec_backup_task step 2): protected backups
 * of this guest (same `subtype`, or none) must stay below the storage's `max-protected-backups`
 * (-1 or absent = unlimited, as for a user with Datastore.Allocate).
 */
export async function checkProtectedLimit(storage: BackupStorage, vmid: number, type: GuestType): Promise<void> {
  const limit = storageOption(storage, 'max-protected-backups');
  const volumes = await storage.listVolumes({ vmid });
  if (typeof limit !== 'number' || limit < 0) return;
  const count = volumes.filter((volume) => volume.protected && (volume.subtype === undefined || volume.subtype === type)).length;
  if (count >= limit) {
    throw new BpError(
      'BP_PROTECTED_LIMIT',
      `The number of protected backups per guest is limited to ${limit} on storage '${storage.storeId}'; unprotect or remove an older backup of guest ${vmid}, or raise max-protected-backups`,
      { details: { vmid, limit, count } },
    );
  }
}

/**
 * vzdump's prune step (before `backupCleanup(true)`): activate the storage, prune this guest's
 * backups of this type and log how many were removed. Any failure is fatal for the guest.
 */
export async function pruneGuestBackups(storage: BackupStorage, keep: PruneOptions, vmid: number, type: GuestType, log: TaskLog): Promise<void> {
  log.info(`prune older backups with retention: ${formatPruneOptions(keep)}`);
  await storage.activateStorage();
  const entries = await storage.pruneBackups(keep as Record<string, number | boolean>, {
    vmid,
    type,
    dryRun: false,
    log: (level, message) => log.write(level, message),
  });
  const pruned = entries.filter((entry) => entry.mark === 'remove').length;
  log.info(`pruned ${pruned} backup(s)${pruned > 0 ? ' not covered by keep-retention policy' : ''}`);
}
