import { BpError } from '../errors/index.js';
import { archiveNameProblem } from './archive-name.js';
import { isValidStorageId } from './storage-id.js';

/** Prefix of every backup volume name: PVE's content type `backup`. */
export const BACKUP_VOLNAME_PREFIX = 'backup/';

/** A parsed backup volume name (`backup/<archive-name>`). */
export interface BackupVolnameParts {
  /** PVE volume type; provider storages hold only backups. */
  vtype: 'backup';
  /** The provider's archive name. */
  archiveName: string;
}

/** A parsed backup volume ID (`<storeid>:backup/<archive-name>`). */
export interface ParsedVolumeId extends BackupVolnameParts {
  /** Storage ID (`pve-storage-id`). */
  storeId: string;
  /** Everything after the first `:`, i.e. `backup/<archive-name>`. */
  volname: string;
}

function invalidVolume(what: string, value: unknown, problem: string): BpError {
  return new BpError(
    'BP_INVALID_VOLUME_ID',
    `invalid ${what} ${JSON.stringify(value)}: ${problem}; expected ${what === 'volume name' ? 'backup/<archive-name>' : '<storeid>:backup/<archive-name>'}`,
    { details: { [what === 'volume name' ? 'volname' : 'volid']: String(value), problem } },
  );
}

function volnameProblem(volname: string): string | undefined {
  if (!volname.startsWith(BACKUP_VOLNAME_PREFIX)) return `it does not start with '${BACKUP_VOLNAME_PREFIX}'`;
  const problem = archiveNameProblem(volname.slice(BACKUP_VOLNAME_PREFIX.length));
  return problem === undefined ? undefined : `its archive name is invalid: ${problem}`;
}

/**
 * Parses a storage plugin volume name `backup/<archive-name>` — what PVE hands to the storage
 * plugin's `parse_volname` for a provider storage (spec section 2). Throws `BP_INVALID_VOLUME_ID`
 * when the prefix is missing or the archive name is invalid.
 */
export function parseVolname(volname: string): BackupVolnameParts {
  const problem = typeof volname === 'string' ? volnameProblem(volname) : 'it is not a string';
  if (problem !== undefined) throw invalidVolume('volume name', volname, problem);
  return { vtype: 'backup', archiveName: volname.slice(BACKUP_VOLNAME_PREFIX.length) };
}

/** Builds the volume name `backup/<archive-name>`; throws `BP_INVALID_VOLUME_ID` for an invalid name. */
export function formatVolname(archiveName: string): string {
  const problem = archiveNameProblem(archiveName);
  if (problem !== undefined) throw invalidVolume('volume name', `${BACKUP_VOLNAME_PREFIX}${String(archiveName)}`, `its archive name is invalid: ${problem}`);
  return `${BACKUP_VOLNAME_PREFIX}${archiveName}`;
}

/**
 * Parses a backup volume ID `<storeid>:backup/<archive-name>`.
 *
 * Like PVE's `PVE::Storage::parse_volume_id` (`^([a-z][a-z0-9\-\_\.]*[a-z0-9]):(.+)$`/i) it splits
 * at the FIRST `:` (a storage ID cannot contain one), so colons inside the archive name are fine.
 * Throws `BP_INVALID_VOLUME_ID` for a bad storage ID, a missing `:`, a volume name that is not
 * `backup/...` or an invalid archive name.
 */
export function parseVolumeId(volid: string): ParsedVolumeId {
  if (typeof volid !== 'string') throw invalidVolume('volume ID', volid, 'it is not a string');
  const colon = volid.indexOf(':');
  if (colon < 0) throw invalidVolume('volume ID', volid, "it has no ':' after the storage ID");
  const storeId = volid.slice(0, colon);
  if (!isValidStorageId(storeId)) throw invalidVolume('volume ID', volid, `storage ID ${JSON.stringify(storeId)} is not a valid PVE storage ID`);
  const volname = volid.slice(colon + 1);
  const problem = volnameProblem(volname);
  if (problem !== undefined) throw invalidVolume('volume ID', volid, `the volume name after ':' is invalid: ${problem}`);
  return { storeId, volname, vtype: 'backup', archiveName: volname.slice(BACKUP_VOLNAME_PREFIX.length) };
}

/**
 * Builds the backup volume ID `<storeid>:backup/<archive-name>` that vzdump derives from
 * `backup_init`'s archive name. Throws `BP_INVALID_VOLUME_ID` for an invalid storage ID or name.
 */
export function formatVolumeId(storeId: string, archiveName: string): string {
  if (!isValidStorageId(storeId)) {
    throw invalidVolume('volume ID', `${String(storeId)}:${BACKUP_VOLNAME_PREFIX}${String(archiveName)}`, `storage ID ${JSON.stringify(storeId)} is not a valid PVE storage ID`);
  }
  const problem = archiveNameProblem(archiveName);
  if (problem !== undefined) {
    throw invalidVolume('volume ID', `${storeId}:${BACKUP_VOLNAME_PREFIX}${String(archiveName)}`, `its archive name is invalid: ${problem}`);
  }
  return `${storeId}:${BACKUP_VOLNAME_PREFIX}${archiveName}`;
}
