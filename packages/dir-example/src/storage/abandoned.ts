import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { isAbandoned, listPartialBackups } from '../state/backup-state.js';
import { GUEST_FILES } from '../layout/index.js';
import { forgetPrevious } from '../state/previous-info.js';

/**
 * Removes partial backups whose job is gone. If such a backup's backupVm had returned, QEMU may
 * have reset its bitmap (hazard H1), so previous-info of those devices is dropped as well. Call
 * under the guest lock. Returns the archive names removed.
 */
export async function removeAbandonedBackups(guestDir: string): Promise<string[]> {
  const removed: string[] = [];
  for (const { dir, state } of await listPartialBackups(guestDir)) {
    if (!isAbandoned(state)) continue;
    if (state.vmDone) await forgetPrevious(join(guestDir, GUEST_FILES.previousInfo), { devices: Object.keys(state.written ?? {}) });
    await rm(dir, { recursive: true, force: true });
    removed.push(state.archiveName);
  }
  return removed;
}
