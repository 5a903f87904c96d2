import type { BackupProgress, ContainerBackupInfo, LogLevel } from '@bp/api';

/** The JSON request the container child reads from stdin. */
export interface ContainerChildRequest {
  /** Where the storage plugin is re-imported from (`BackupStoragePlugin.moduleRef`). */
  moduleRef: { module: string; exportName: string };
  storeId: string;
  /** The storage config; re-validated with the plugin's `configSchema` in the child. */
  config: unknown;
  vmid: number;
  guestConfig: string;
  excludePatterns: string[];
  info: ContainerBackupInfo;
}

/** One JSON line the child writes to stdout. */
export type ContainerChildMessage =
  | { type: 'log'; level: LogLevel; message: string }
  | { type: 'progress'; progress: BackupProgress }
  | { type: 'done' }
  | { type: 'error'; code: string; message: string };
