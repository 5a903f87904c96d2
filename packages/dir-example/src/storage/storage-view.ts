import type { ParsedVolname, StorageConfig } from '@bp/api';
import type { StorageLayout } from '../layout/index.js';

/**
 * What the provider and prune need of the directory storage: a narrow view it implements, so
 * neither imports the storage class (no provider ↔ storage ↔ prune import cycle).
 */
export interface DirStorageView {
  readonly storeId: string;
  readonly config: StorageConfig;
  readonly layout: StorageLayout;
  /** `<storeid>:backup/<archive-name>` */
  volid(archiveName: string): string;
  parseVolname(volname: string): ParsedVolname;
  /** The published directory of a volume; throws BP_NOT_FOUND when it does not exist. */
  existingBackupDir(volname: string): Promise<string>;
  /** See `DirBackupStorage.storageInstanceId`. */
  storageInstanceId(): Promise<string>;
  /** Logs of failed attempts of a guest. */
  failedLogs(vmid: number): Promise<string[]>;
}
