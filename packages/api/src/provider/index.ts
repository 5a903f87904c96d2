export type { BackupProvider } from './backup-provider.js';
export { containerBackupInfoSchema, STANDARD_EXCLUDES, type ContainerBackupInfo } from './container.js';
export type { BackupProgress, BackupProgressFunction } from './progress.js';
export { guestTypeSchema, vmidSchema, type GuestType, type LogFunction, type LogLevel } from './guest.js';
export {
  backupMechanismSchema,
  bitmapModeSchema,
  incrementalAnswerSchema,
  incrementalAnswersSchema,
  restoreMechanismSchema,
  vmBackupMechanismSchema,
  type BackupMechanism,
  type BitmapMode,
  type IncrementalAnswer,
  type IncrementalAnswers,
  type RestoreMechanism,
  type VmBackupMechanism,
} from './mechanism.js';
export {
  backupCleanupResultSchema,
  backupInitResultSchema,
  restoreContainerInitResultSchema,
  restoreMechanismResultSchema,
  restoreVmInitResultSchema,
  restoreVmVolumeExportResultSchema,
  restoreVmVolumeInitResultSchema,
  type BackupCleanupInfo,
  type BackupCleanupResult,
  type BackupInitResult,
  type RestoreContainerInitResult,
  type RestoreInfo,
  type RestoreMechanismResult,
  type RestoreVmInitResult,
  type RestoreVmVolumeExportResult,
  type RestoreVmVolumeInitResult,
} from './results.js';
export {
  assertSpecificationVersion,
  CURRENT_SPECIFICATION_VERSION,
  SPECIFICATION_VERSIONS,
  type SpecificationVersion,
} from './specification-version.js';
export type {
  BackupVmInfo,
  BitmapIdentity,
  DiskRegion,
  FileHandleVmVolume,
  NbdVmVolume,
  VmDeviceSizes,
  VmVolume,
  VmVolumes,
} from './vm-volume.js';
