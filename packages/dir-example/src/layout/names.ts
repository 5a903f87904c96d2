import { formatArchiveName, parseArchiveName, type ArchiveGuestType, type ParsedArchiveName } from '@bp/api';

/** Directory name of a published backup inside `<path>/<vmid>/`: `<type>-<time>` (time formatted or legacy epoch). */
export const BACKUP_DIR_NAME = /^(qemu|lxc)-(?:0|[1-9][0-9]*|\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z)$/;

/** Prefix of a backup directory that is still being written (never listed). */
export const PARTIAL_PREFIX = '.partial-';

/** Suffix of the directory that keeps the log of a failed attempt (the example's `<dir>.failed/backup.log`). */
export const FAILED_SUFFIX = '.failed';

/** Files inside a backup directory. */
export const FILES = {
  guestConfig: 'guest.conf',
  firewallConfig: 'firewall.conf',
  log: 'backup.log',
  tar: 'archive.tar',
  squashfs: 'archive.sqfs',
  /** POSIX ACLs of a squashfs archive (`getfacl` dump), which squashfs cannot store. */
  acl: 'archive.acl',
  manifest: 'manifest.json',
  notes: 'notes',
  protected: 'protected',
  state: '.bp-state.json',
  /** Per device: the incremental record and why the image is full (see chain-file.ts). */
  chain: 'chain.json',
  /** Directory of checksums taken while a backup's files were written; consumed by publication. */
  checksums: '.bp-checksums',
} as const;

/** Per-guest files in `<path>/<vmid>/`. */
/** Files in the storage root. */
export const ROOT_FILES = {
  /** The storage instance ID, created with the storage (see DirBackupStorage.storageInstanceId). */
  instance: '.bp-storage-instance',
} as const;

export const GUEST_FILES = {
  previousInfo: 'previous-info',
  lock: '.lock',
} as const;

/** Files that may change after publication and are therefore not part of the manifest. */
// chain.json changes when a prune merges a chain; it is advisory (a wrong record can only force a full).
export const MUTABLE_FILES: ReadonlySet<string> = new Set([FILES.notes, FILES.protected, FILES.log, FILES.manifest, FILES.state, FILES.chain]);

/** The image file of a VM device. */
export function imageFileName(device: string): string {
  return `${device}.qcow2`;
}

/** Device names become file names: keep them to a safe charset. */
export const DEVICE_NAME = /^[a-zA-Z0-9][a-zA-Z0-9_.+-]{0,127}$/;

/** The archive name bp writes for a new backup, e.g. `100/qemu-2026-11-26T19:18:28Z`. */
export function newArchiveName(vmid: number, vmtype: ArchiveGuestType, time: number): string {
  return formatArchiveName({ vmid, vmtype, time });
}

/** Parses an archive name (formatted or the example's epoch form); throws BP_INVALID_ARCHIVE_NAME. */
export function parseName(archiveName: string): ParsedArchiveName {
  return parseArchiveName(archiveName);
}

/** `<type>-<time>` part of an archive name. */
export function backupDirName(archiveName: string): string {
  return archiveName.slice(archiveName.indexOf('/') + 1);
}
