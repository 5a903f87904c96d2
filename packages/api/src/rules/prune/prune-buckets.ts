import type { LocalCalendarFields } from './local-calendar.js';
import type { PruneKeepCountKey } from './prune-options.js';

/**
 * The period ("id") a backup falls into for one retention option, as the id functions of PVE's
 * `prune_mark_backup_group` (pve-storage `PVE::Storage`) compute it: keep-last uses the ctime
 * itself, the others the LOCAL calendar fields of the ctime — hour, day, ISO week (strftime
 * `%V` with week-year `%G`), month, year. Two backups with the same id share one period.
 */
export function pruneBucketId(option: PruneKeepCountKey, ctime: number, local: () => LocalCalendarFields): string {
  if (option === 'keep-last') return String(ctime);
  const { year, month, day, hour, isoWeek, isoWeekYear } = local();
  switch (option) {
    case 'keep-hourly':
      return `${year}-${month}-${day}-${hour}`;
    case 'keep-daily':
      return `${year}-${month}-${day}`;
    case 'keep-weekly':
      return `${isoWeekYear}-W${isoWeek}`;
    case 'keep-monthly':
      return `${year}-${month}`;
    case 'keep-yearly':
      return `${year}`;
  }
}
