/**
 * PVE's device name of a drive (spec 1.2): `drive-<virtdev>`, except the TPM state, which PVE
 * attaches only for the backup as `drive-tpmstate0-backup`. It names the NBD export, the
 * `$volumes` key and the restore key.
 */
export function deviceNameFor(virtdev: string): string {
  return virtdev.startsWith('tpmstate') ? `drive-${virtdev}-backup` : `drive-${virtdev}`;
}

/** The dirty bitmap of a storage (spec 1.2.2): one per device and PVE storage ID. */
export function bitmapNameFor(storeId: string): string {
  return `snapshot-access:${storeId}`;
}

/** Node name prefix of everything bp adds to QEMU for one disk (node names: letter first, at most 31 characters). */
export function nodeTag(virtdev: string): string {
  return `bp-${virtdev.replace(/[^A-Za-z0-9_.-]/g, '_')}`.slice(0, 20);
}
