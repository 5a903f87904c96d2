import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { defineProvider, parseArchiveName, parseVolname, type BackupProvider, type LogFunction, type StorageConfig } from '@bp/api';
import { FILES, type Layout } from './layout.js';
import { finishBackup } from './session.js';
import { supports } from './supports.js';

/**
 * A provider that makes no backups yet: `defineProvider` answers every VM and container operation
 * with BP_NOT_SUPPORTED, as the declaration says. Restores read what the storage lists.
 */
export function createProvider(layout: Layout, _config: StorageConfig, _log: LogFunction): BackupProvider {
  return defineProvider(supports, {
    name: '__NAME__',
    backupInit: async (vmid, vmtype, startTime) => ({ archiveName: await layout.begin(vmid, vmtype, startTime) }),
    backupCleanup: (vmid, vmtype, success) => finishBackup(layout, vmid, vmtype, success),
    restoreGetMechanism: async (volname) => {
      const { vmtype } = parseArchiveName(parseVolname(volname).archiveName);
      return vmtype === 'qemu' ? { mechanism: 'qemu-img', vmtype } : { mechanism: 'tar', vmtype };
    },
    archiveGetGuestConfig: async (volname) => readFile(join(await layout.existing(parseVolname(volname).archiveName), FILES.guestConfig), 'utf8'),
  });
}
