// The backup directory layout both test providers share: `<root>/<vmid>/<vmtype>-<startTime>`.
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { BackupProvider } from '@bp/api';

/** A `backupInit` that creates the guest's backup directory and remembers its name per VMID in `current`. */
export function directoryBackupInit(root: string, current: Map<number, string>): BackupProvider['backupInit'] {
  return async (vmid, vmtype, startTime) => {
    const archiveName = `${vmid}/${vmtype}-${startTime}`;
    await mkdir(join(root, archiveName), { recursive: true });
    current.set(vmid, archiveName);
    return { archiveName };
  };
}
