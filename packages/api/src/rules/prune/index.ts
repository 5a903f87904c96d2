export { localCalendarFields, isoWeekOf, type LocalCalendarFields } from './local-calendar.js';
export {
  markBackupGroup,
  type MarkBackupGroupOptions,
  type MarkedEntry,
  type PruneCandidate,
} from './mark-backup-group.js';
export { backupGroupKey, groupForPrune, pruneBackups, type PruneBackupEntry, type PruneBackupsFilter } from './prune-backups.js';
export { pruneBucketId } from './prune-buckets.js';
export {
  formatPruneOptions,
  keepsAll,
  parsePruneOptions,
  PRUNE_KEEP_COUNT_KEYS,
  pruneOptionsSchema,
  type PruneKeepCountKey,
  type PruneOptions,
  type PruneOptionsInput,
} from './prune-options.js';
