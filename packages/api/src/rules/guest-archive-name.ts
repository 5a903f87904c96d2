import { BpError } from '../errors/index.js';
import { backupTimeFromText, formatBackupTime } from './backup-time.js';

/** Guest types a backup provider handles (vzdump's `$vmtype`). */
export type ArchiveGuestType = 'qemu' | 'lxc';

/** Lowest and highest VMID PVE allows (`pve-vmid`: 100..999999999). */
export const MIN_VMID = 100;
export const MAX_VMID = 999_999_999;

/** What a standard bp archive name says about its backup. */
export interface ArchiveNameParts {
  /** Guest ID. */
  vmid: number;
  /** Guest type. */
  vmtype: ArchiveGuestType;
  /** Backup start, epoch seconds (vzdump's per-guest `backup_time`). */
  time: number;
}

/** {@link ArchiveNameParts} plus which naming form was found. */
export interface ParsedArchiveName extends ArchiveNameParts {
  /** True for the directory example's `<vmid>/<vmtype>-<epoch>` form, false for the formatted form. */
  legacyEpoch: boolean;
}

// The legacy epoch must be canonical (no leading zeros) so that each backup has one name.
const STANDARD_ARCHIVE_NAME = /^([1-9][0-9]*)\/(qemu|lxc)-(?:(0|[1-9][0-9]*)|(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z))$/;

function isValidVmid(vmid: number): boolean {
  return Number.isInteger(vmid) && vmid >= MIN_VMID && vmid <= MAX_VMID;
}

/**
 * Builds bp's standard archive name `<vmid>/<vmtype>-<YYYY-MM-DDTHH:MM:SSZ>`, e.g.
 * `100/qemu-2026-11-26T19:18:28Z`. It replaces the directory example's `<vmid>/<vmtype>-<epoch>`
 * (spec 4.5) with a readable UTC ID; `:` is allowed in archive names since the final API.
 *
 * Throws `BP_INVALID_ARCHIVE_NAME` for a VMID outside 100..999999999, an unknown guest type or a
 * time outside 0..MAX_BACKUP_TIME.
 */
export function formatArchiveName(parts: ArchiveNameParts): string {
  const { vmid, vmtype, time } = parts;
  if (!isValidVmid(vmid)) {
    throw new BpError('BP_INVALID_ARCHIVE_NAME', `cannot name a backup of VMID ${String(vmid)}: use a whole number from ${MIN_VMID} to ${MAX_VMID}`, {
      details: { vmid: String(vmid) },
    });
  }
  if (vmtype !== 'qemu' && vmtype !== 'lxc') {
    throw new BpError('BP_INVALID_ARCHIVE_NAME', `cannot name a backup of guest type ${JSON.stringify(vmtype)}: use 'qemu' or 'lxc'`, {
      details: { vmtype: String(vmtype) },
    });
  }
  let stamp: string;
  try {
    stamp = formatBackupTime(time);
  } catch (error) {
    throw new BpError('BP_INVALID_ARCHIVE_NAME', `cannot name a backup started at ${String(time)}: use whole epoch seconds from 0 to 9999-12-31`, {
      cause: error,
      details: { time: String(time) },
    });
  }
  return `${vmid}/${vmtype}-${stamp}`;
}

/**
 * Parses a standard archive name: the formatted `100/qemu-2026-11-26T19:18:28Z` or the directory
 * example's legacy `100/qemu-1732648708` (`legacyEpoch: true`). The example's `parse_volname`
 * accepted `<digits>/<lowercase>-<digits>`; bp accepts only the guest types `qemu` and `lxc`, a
 * PVE VMID and a canonical epoch.
 *
 * Throws `BP_INVALID_ARCHIVE_NAME` for anything else; callers that list backups treat such names
 * as PVE treats non-standard names when pruning (mark `renamed`).
 */
export function parseArchiveName(name: string): ParsedArchiveName {
  const match = typeof name === 'string' ? STANDARD_ARCHIVE_NAME.exec(name) : null;
  if (match) {
    const vmid = Number(match[1]);
    const vmtype = match[2] as ArchiveGuestType;
    const legacyEpoch = match[3] !== undefined;
    const time = legacyEpoch ? Number(match[3]) : backupTimeFromText(match[4] ?? '');
    if (isValidVmid(vmid) && time !== undefined && Number.isSafeInteger(time)) return { vmid, vmtype, time, legacyEpoch };
  }
  throw new BpError(
    'BP_INVALID_ARCHIVE_NAME',
    `archive name ${JSON.stringify(name)} is not a standard bp backup name like 100/qemu-2026-11-26T19:18:28Z or 100/qemu-1732648708`,
    { details: { name: String(name) } },
  );
}

/** True when {@link parseArchiveName} would accept `name`. */
export function isStandardArchiveName(name: string): boolean {
  try {
    parseArchiveName(name);
    return true;
  } catch {
    return false;
  }
}
