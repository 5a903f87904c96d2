export type { BackupStorage, BackupStoragePlugin, PruneBackupsOptions, VerifyResult } from './backup-storage.js';
export {
  chainLimitActionSchema,
  containerFormatSchema,
  incrementalPolicyOf,
  storageConfigObjectSchema,
  storageConfigSchema,
  vmBackupModeSchema,
  type ContainerFormat,
  type StorageConfig,
  type StorageConfigInput,
  type VmBackupMode,
} from './config.js';
export type { StorageSupports } from './supports.js';
export {
  setStorageConfigNoticeSink,
  upgradeV3StorageConfig,
  v3StorageConfigNotices,
  V3_STORAGE_CONFIG_NAMES,
  type StorageConfigNoticeSink,
} from './v3-config-names.js';
export {
  backupVolumeSchema,
  deviceChainSchema,
  type BackupVolume,
  type DeviceChain,
  type ParsedVolname,
  type PruneMark,
  type PruneResultEntry,
  type StorageStatus,
  type VolumeAttribute,
  type VolumeSizeInfo,
} from './volume.js';
