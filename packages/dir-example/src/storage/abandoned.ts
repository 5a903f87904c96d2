import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { isAbandoned, listPartialBackups } from '../state/backup-state.js';
import { readPreviousInfo, writePreviousInfo } from '../state/previous-info.js';

/**
 * Removes partial backups whose job is gone. If such a backup's backupVm had returned, QEMU may
 * have reset its bitmap (hazard H1), so previous-info of those devices is dropped as well. Call
 * under the guest lock. Returns the archive names removed.
 */
export async function removeAbandonedBackups(guestDir: string): Promise<string[]> {
  const removed: string[] = [];
  for (const { dir, state } of await listPartialBackups(guestDir)) {
    if (!isAbandoned(state)) continue;
    const devices = state.vmDone ? Object.keys(state.written ?? {}) : [];
    if (devices.length > 0) {
      const previousPath = join(guestDir, 'previous-info');
      const previous = await readPreviousInfo(previousPath);
      for (const device of devices) delete previous[device];
      await writePreviousInfo(previousPath, previous);
    }
    await rm(dir, { recursive: true, force: true });
    removed.push(state.archiveName);
  }
  return removed;
}
