import { markBackupGroup, type MarkBackupGroupOptions, type MarkedEntry, type PruneCandidate } from './mark-backup-group.js';
import type { PruneOptionsInput } from './prune-options.js';

/** A listed backup as PVE's `prune_backups` sees it. */
export interface PruneBackupEntry extends PruneCandidate {
  /** `<storeid>:backup/<archive-name>` */
  volid: string;
  /** Owner guest. */
  vmid: number;
  /** Guest type; PVE uses `qemu`, `lxc`, `openvz` or `unknown`. */
  type: string;
}

/** Which backups {@link pruneBackups} looks at, and the time zone of the periods. */
export interface PruneBackupsFilter extends MarkBackupGroupOptions {
  /** Only backups of this guest. */
  vmid?: number;
  /** Only backups of this guest type. */
  type?: string;
}

/** The group key PVE uses for pruning: `<type>/<vmid>`. */
export function backupGroupKey(entry: Pick<PruneBackupEntry, 'type' | 'vmid'>): string {
  return `${entry.type}/${entry.vmid}`;
}

/** Groups backups by {@link backupGroupKey}, keeping input order within each group. */
export function groupForPrune<T extends Pick<PruneBackupEntry, 'type' | 'vmid'>>(entries: readonly T[]): Map<string, T[]> {
  const groups = new Map<string, T[]>();
  for (const entry of entries) {
    const key = backupGroupKey(entry);
    const group = groups.get(key);
    if (group) group.push(entry);
    else groups.set(key, [entry]);
  }
  return groups;
}

/**
 * Decides which backups of a storage to prune, as the built-in `prune_backups` of pve-storage
 * (`PVE::Storage::Plugin`, spec section 2): backups not matching `filter.vmid`/`filter.type` are
 * left out of the result; entries already marked `renamed` (non-standard names) are returned
 * unchanged and take part in no group; the rest are grouped by `<type>/<vmid>` and each group is
 * marked with {@link markBackupGroup}. Returns the considered entries in input order, each with
 * its mark. Pure: removing the `remove` entries is the caller's job.
 */
export function pruneBackups<T extends PruneBackupEntry>(
  entries: readonly T[],
  options: PruneOptionsInput,
  filter: PruneBackupsFilter = {},
): MarkedEntry<T>[] {
  const considered = entries.filter(
    (entry) => (filter.vmid === undefined || entry.vmid === filter.vmid) && (filter.type === undefined || entry.type === filter.type),
  );
  const markOptions: MarkBackupGroupOptions = filter.timeZone === undefined ? {} : { timeZone: filter.timeZone };
  const marked = new Map<T, MarkedEntry<T>>();
  const groups = groupForPrune(considered.filter((entry) => entry.mark !== 'renamed'));
  for (const group of groups.values()) {
    const result = markBackupGroup(group, options, markOptions);
    group.forEach((entry, index) => marked.set(entry, result[index] as MarkedEntry<T>));
  }
  return considered.map((entry) => marked.get(entry) ?? ({ ...entry, mark: 'renamed' } as MarkedEntry<T>));
}
