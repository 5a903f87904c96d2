import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { BackupCleanupResult, GuestType } from '@bp/api';
import { directoryBytes, exists, type Layout } from './layout.js';

/** Written into a partial backup once its data is complete (`backupVm` / `backupContainer` returned). */
export const DATA_DONE = '.data-done';

/** Marks the guest's backup in progress as complete; the host publishes it with `backupCleanup(true)`. */
export async function markDataDone(layout: Layout, archiveName: string): Promise<void> {
  await writeFile(join(layout.partialDir(archiveName), DATA_DONE), '');
}

/**
 * PVE's `backup_cleanup`: on success publish the backup (rename: listings see it only now), on
 * failure remove what was written. It may come without `backupInit`, or twice (success, then
 * failure): both find no backup in progress and do nothing. `onFailureAfterData` runs when a
 * failure follows complete data (hazard H1: QEMU already reset its dirty bitmap).
 */
export async function finishBackup(
  layout: Layout,
  vmid: number,
  vmtype: GuestType | undefined,
  success: boolean,
  hooks: { onPublished?: (archiveName: string) => Promise<void>; onFailureAfterData?: () => Promise<void> } = {},
): Promise<BackupCleanupResult> {
  const archiveName = await layout.inProgress(vmid, vmtype);
  if (archiveName === undefined) return {};
  const dataDone = await exists(join(layout.partialDir(archiveName), DATA_DONE));
  if (success && dataDone) {
    await rm(join(layout.partialDir(archiveName), DATA_DONE));
    await layout.publish(archiveName);
    await hooks.onPublished?.(archiveName);
    return { stats: { archiveSize: await directoryBytes(layout.dir(archiveName)) } };
  }
  if (dataDone) await hooks.onFailureAfterData?.();
  await layout.discard(archiveName);
  return {};
}
