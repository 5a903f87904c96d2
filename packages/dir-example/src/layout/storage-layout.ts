import { join } from 'node:path';
import { BACKUP_DIR_NAME, backupDirName, FAILED_SUFFIX, FILES, GUEST_FILES, imageFileName, parseName, PARTIAL_PREFIX } from './names.js';

/** Paths of one storage directory. Pure: touches no file. */
export class StorageLayout {
  constructor(readonly root: string) {}

  /** `<path>/<vmid>` */
  guestDir(vmid: number): string {
    return join(this.root, String(vmid));
  }

  /** Published backup directory of an archive name (validated). */
  backupDir(archiveName: string): string {
    const { vmid } = parseName(archiveName);
    return join(this.guestDir(vmid), backupDirName(archiveName));
  }

  /** Directory a backup is written to before it is published by rename. */
  partialDir(archiveName: string): string {
    const { vmid } = parseName(archiveName);
    return join(this.guestDir(vmid), `${PARTIAL_PREFIX}${backupDirName(archiveName)}`);
  }

  /** Where the log of a failed attempt is kept (`<type>-<time>.failed/backup.log`). */
  failedLogPath(archiveName: string): string {
    const { vmid } = parseName(archiveName);
    return join(this.guestDir(vmid), `${backupDirName(archiveName)}${FAILED_SUFFIX}`, FILES.log);
  }

  /** Log of an attempt that failed before it had an archive name. */
  orphanLogPath(vmid: number, time: number): string {
    return join(this.guestDir(vmid), `unnamed-${time}${FAILED_SUFFIX}`, FILES.log);
  }

  previousInfoPath(vmid: number): string {
    return join(this.guestDir(vmid), GUEST_FILES.previousInfo);
  }

  lockTarget(vmid: number): string {
    return join(this.guestDir(vmid), GUEST_FILES.lock);
  }

  imagePath(backupDir: string, device: string): string {
    return join(backupDir, imageFileName(device));
  }
}

/** True for a directory entry of `<path>/<vmid>/` that is a published backup. */
export function isBackupDirName(name: string): boolean {
  return BACKUP_DIR_NAME.test(name);
}
