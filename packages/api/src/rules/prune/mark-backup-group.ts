import { BpError } from '../../errors/index.js';
import type { PruneMark } from '../../storage/volume.js';
import { localCalendarFields, type LocalCalendarFields } from './local-calendar.js';
import { pruneBucketId } from './prune-buckets.js';
import { keepsAll, parsePruneOptions, PRUNE_KEEP_COUNT_KEYS, type PruneKeepCountKey, type PruneOptionsInput } from './prune-options.js';


/** The fields pruning reads from a backup; anything else on an entry is carried through. */
export interface PruneCandidate {
  /** Backup time, epoch seconds (PVE's `ctime`). */
  ctime: number;
  /** Protected backups get mark `protected`. */
  protected?: boolean;
  /** A mark set beforehand (e.g. `renamed`); see {@link markBackupGroup}. */
  mark?: PruneMark;
}

/** An entry after marking. */
export type MarkedEntry<T> = T & { mark: PruneMark };

/** Options of {@link markBackupGroup} beyond the retention options. */
export interface MarkBackupGroupOptions {
  /**
   * IANA time zone for the hourly/daily/weekly/monthly/yearly periods. Default: the process's
   * local zone, as PVE's `localtime`.
   */
  timeZone?: string;
}

interface Slot<T> {
  entry: T;
  mark: PruneMark | undefined;
  local: () => LocalCalendarFields;
}

/** A protected backup is `protected` whatever it was marked before, except `renamed` ones. */
function initialMark(entry: PruneCandidate): PruneMark | undefined {
  if (entry.protected === true && entry.mark !== 'renamed') return 'protected';
  return entry.mark;
}

/** One pass of PVE's `$prune_mark` closure over the newest-first list. */
function markPass<T extends PruneCandidate>(slots: readonly Slot<T>[], option: PruneKeepCountKey, keepCount: number): void {
  const idOf = (slot: Slot<T>): string => pruneBucketId(option, slot.entry.ctime, slot.local);
  // Periods already covered by a kept backup (of an earlier option) are skipped entirely.
  const alreadyIncluded = new Set(slots.filter((slot) => slot.mark === 'keep').map(idOf));
  const newlyIncluded = new Set<string>();
  for (const slot of slots) {
    if (slot.mark !== undefined) continue;
    const id = idOf(slot);
    if (alreadyIncluded.has(id)) continue;
    if (!newlyIncluded.has(id)) {
      if (newlyIncluded.size >= keepCount) break;
      newlyIncluded.add(id);
      slot.mark = 'keep';
    } else {
      // An older backup of a period this pass already keeps: only the newest of a period stays.
      slot.mark = 'remove';
    }
  }
}

/**
 * Marks one backup group (one guest's backups of one type) for pruning, exactly as PVE's
 * `PVE::Storage::prune_mark_backup_group` (pve-storage, Storage.pm) does:
 *
 * - With `keep-all` or no positive count, every entry is `keep`, except that an existing mark
 *   other than `remove` is preserved.
 * - Otherwise the entries are walked newest first (stable for equal ctimes) once per option, in
 *   the order keep-last, keep-hourly, keep-daily, keep-weekly, keep-monthly, keep-yearly. In each
 *   pass, periods already covered by an entry marked `keep` are skipped; the first unmarked entry
 *   of a new period is marked `keep` until N periods are kept; later unmarked entries of a period
 *   newly kept in this pass are marked `remove`; the pass stops at the (N+1)th new period.
 *   Entries that already carry a mark (`protected`, `renamed`, or a mark set by the caller) are
 *   neither changed nor counted. Finally every unmarked entry becomes `remove`.
 *
 * Entries with `protected: true` are marked `protected` first (as PVE's `prune_backups` does), so
 * they are never removed and never use up a count. Periods use local time (see
 * {@link MarkBackupGroupOptions.timeZone}). The input is not modified: the result holds copies in
 * input order with `mark` set. Throws `BP_INVALID_CONFIG` for invalid options and
 * `BP_INVALID_ARGUMENT` for a ctime that is not a finite number or an unknown time zone.
 */
export function markBackupGroup<T extends PruneCandidate>(
  entries: readonly T[],
  options: PruneOptionsInput,
  markOptions: MarkBackupGroupOptions = {},
): MarkedEntry<T>[] {
  const keep = parsePruneOptions(options);
  const slots: Slot<T>[] = entries.map((entry) => {
    if (typeof entry.ctime !== 'number' || !Number.isFinite(entry.ctime)) {
      throw new BpError('BP_INVALID_ARGUMENT', `backup ctime ${String(entry.ctime)} is not a number of seconds; every prune entry needs one`, {
        details: { ctime: String(entry.ctime) },
      });
    }
    let fields: LocalCalendarFields | undefined;
    const local = (): LocalCalendarFields => (fields ??= localCalendarFields(entry.ctime, markOptions.timeZone));
    return { entry, mark: initialMark(entry), local };
  });
  if (markOptions.timeZone !== undefined) localCalendarFields(0, markOptions.timeZone); // reject a bad zone up front

  if (keepsAll(keep)) {
    for (const slot of slots) if (slot.mark === undefined || slot.mark === 'remove') slot.mark = 'keep';
  } else {
    const newestFirst = [...slots].sort((a, b) => b.entry.ctime - a.entry.ctime);
    for (const option of PRUNE_KEEP_COUNT_KEYS) {
      const count = keep[option];
      if (count !== undefined && count > 0) markPass(newestFirst, option, count);
    }
  }
  return slots.map((slot) => ({ ...slot.entry, mark: slot.mark ?? 'remove' }));
}
