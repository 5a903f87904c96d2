export { openBackupFiles, type BackupFiles, type OpenBackupFilesOptions, type RestoredPath } from './backup-files.js';
export type { FileEntry } from './file-entry.js';
export { mountBackup, unmountBackup, type MountBackupOptions, type MountedBackup, type MountedVolume, type UnmountBackupOptions } from './mount-backup.js';
export type { NbdListen, ServedDisk } from './nbd-export.js';
export type { OpenBackupCommonOptions } from './open-session.js';
export { readDiskLayout, type DiskLayout, type DiskVolume } from './partitions.js';
export { serveBackup, type ServeBackupOptions, type ServedBackup } from './serve-backup.js';
export { defaultStateDir, listRecords as listOpenSessions, type SessionRecord } from './session-record.js';
export { cleanupStaleSessions, type StorageOpener } from './teardown.js';
