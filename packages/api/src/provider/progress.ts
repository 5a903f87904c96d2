/** How far a provider got storing a guest, reported while `backupVm` / `backupContainer` runs. */
export interface BackupProgress {
  /** The VM device being stored (`drive-scsi0`); absent for a container archive. */
  device?: string;
  /** Bytes of this device (or of the container archive) processed so far: read, or skipped as zeroes. */
  bytesDone: number;
  /** Bytes this device will process in all, when the provider knows it in advance. */
  bytesTotal?: number;
}

/**
 * Optional progress callback in a backup's info object. A provider may call it as often as it
 * likes (the host rate-limits what it forwards); it must not throw, and not calling it is fine.
 */
export type BackupProgressFunction = (progress: BackupProgress) => void;
