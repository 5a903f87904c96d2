import { BACKUP_VOLNAME_PREFIX, BpError, formatVolumeId, parseVolname, parseVolumeId, type BackupStorage, type BackupVolume } from '@bp/api';
import type { CommandContext } from '../args/command-spec.js';
import { openStorage } from '../config/storage-registry.js';
import { usageError } from '../errors/usage-error.js';

/** A backup named on the command line, with its opened storage. */
export interface VolumeArgument {
  storage: BackupStorage;
  volname: string;
  volid: string;
}

/**
 * Resolves `<storeid>:backup/<name>`, `backup/<name>` or a bare archive name (the last two on
 * `--storage` or the default storage) and opens the storage.
 */
export async function resolveVolumeArgument(context: CommandContext, text: string | undefined, overrides: Record<string, unknown> = {}): Promise<VolumeArgument> {
  if (text === undefined || text.length === 0) throw usageError('a backup volume ID is needed, e.g. local:backup/<name> (see `bp list`)');
  const colon = text.indexOf(':');
  const hasStore = colon > 0 && !text.slice(0, colon).includes('/');
  if (hasStore) {
    const parsed = parseVolumeId(text);
    if (context.global.storage !== undefined && context.global.storage !== parsed.storeId) {
      throw usageError(`volume ${text} is on storage ${parsed.storeId}, but --storage says ${context.global.storage}; drop one of them`);
    }
    const storage = await openStorage(context.paths, parsed.storeId, overrides);
    return { storage, volname: parsed.volname, volid: text };
  }
  const volname = text.startsWith(BACKUP_VOLNAME_PREFIX) ? text : `${BACKUP_VOLNAME_PREFIX}${text}`;
  parseVolname(volname);
  const storage = await openStorage(context.paths, context.global.storage, overrides);
  return { storage, volname, volid: formatVolumeId(storage.storeId, volname.slice(BACKUP_VOLNAME_PREFIX.length)) };
}

/** The listed backup for a volume, or BP_NOT_FOUND telling the user how to see what exists. */
export async function findVolume(target: VolumeArgument): Promise<BackupVolume> {
  const { vmid } = target.storage.parseVolname(target.volname);
  const volumes = await target.storage.listVolumes({ vmid });
  const volume = volumes.find((candidate) => candidate.volid === target.volid);
  if (!volume) {
    throw new BpError('BP_NOT_FOUND', `backup ${target.volid} does not exist; run \`bp list ${vmid} --storage ${target.storage.storeId}\` to see the backups of guest ${vmid}`, {
      details: { volid: target.volid },
    });
  }
  return volume;
}
