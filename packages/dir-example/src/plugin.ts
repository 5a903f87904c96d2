import { CURRENT_SPECIFICATION_VERSION, storageConfigSchema, type BackupStoragePlugin, type StorageConfig } from '@bp/api';
import { DirBackupStorage } from './storage/dir-storage.js';

/**
 * The directory storage plugin (`bp-dir`): backups as directories below `path`, VM disks as
 * qcow2 images (incrementals as overlays), containers as tar or squashfs archives.
 */
export const dirExamplePlugin: BackupStoragePlugin<StorageConfig> = {
  specificationVersion: CURRENT_SPECIFICATION_VERSION,
  type: 'bp-dir',
  configSchema: storageConfigSchema,
  supports: {
    vmMechanisms: ['nbd', 'file-handle'],
    incremental: true,
    containerFormats: ['tar', 'squashfs'],
    notes: true,
    protected: true,
    prune: true,
    delete: true,
    verify: true,
  },
  moduleRef: { module: '@bp/dir-example', exportName: 'dirExamplePlugin' },
  open(storeId: string, config: StorageConfig): DirBackupStorage {
    return new DirBackupStorage(dirExamplePlugin, storeId, config);
  },
};
