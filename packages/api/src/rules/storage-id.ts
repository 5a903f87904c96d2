/**
 * PVE's storage ID format `pve-storage-id` (pve-common `PVE::JSONSchema::parse_storage_id`):
 * `^[a-z][a-z0-9\-\_\.]*[a-z0-9]$`, matched case-insensitively (`/i`), so at least two
 * characters, starting with a letter and ending with a letter or digit.
 */
export const STORAGE_ID_PATTERN = /^[a-z][a-z0-9\-_.]*[a-z0-9]$/i;

/** True when `storeId` is a valid PVE storage ID (see {@link STORAGE_ID_PATTERN}). */
export function isValidStorageId(storeId: unknown): storeId is string {
  return typeof storeId === 'string' && STORAGE_ID_PATTERN.test(storeId);
}
