export { ARCHIVE_NAME_MAX_LENGTH, archiveNameProblem, isValidArchiveName, validateArchiveName } from './archive-name.js';
export { backupTimeFromText, formatBackupTime, MAX_BACKUP_TIME, parseBackupTime } from './backup-time.js';
export {
  formatArchiveName,
  isStandardArchiveName,
  MAX_VMID,
  MIN_VMID,
  parseArchiveName,
  type ArchiveGuestType,
  type ArchiveNameParts,
  type ParsedArchiveName,
} from './guest-archive-name.js';
export * from './prune/index.js';
export {
  devicesFromGuestConfig,
  formatQmdumpMapLine,
  parseQmdumpMap,
  parseQmdumpMapLine,
  QMDUMP_MAP_PREFIX,
  setQmdumpMap,
  type QmdumpMapEntry,
} from './qmdump-map.js';
export { isValidStorageId, STORAGE_ID_PATTERN } from './storage-id.js';
export {
  BACKUP_VOLNAME_PREFIX,
  formatVolname,
  formatVolumeId,
  parseVolname,
  parseVolumeId,
  type BackupVolnameParts,
  type ParsedVolumeId,
} from './volume-id.js';
export {
  decideIncremental,
  FULL_REASON_TEXT,
  fullReasonSchema,
  incrementalRecordSchema,
  nextIncrementalRecord,
  type FullReason,
  type IncrementalDecision,
  type IncrementalFacts,
  type IncrementalPolicy,
  type IncrementalRecord,
} from './incremental-trust.js';
