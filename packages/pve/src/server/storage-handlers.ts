import { BpError, type BackupStorage, type BackupStoragePlugin, type PruneResultEntry, type VolumeAttribute } from '@bp/api';
import { describeConfigSchema, type ConfigProperty } from '../translate/config-schema.js';
import { isAbsent, perlBool, toBool, toHash, toInt, toOptionalInt, toOptionalStr, toStr } from '../translate/perl-values.js';
import { configFromScfg } from '../translate/scfg.js';
import type { Handler } from './handler.js';

const CACHE_LIMIT = 32;

/** Opens storages from `$storeid` + `$scfg`, reusing an open one while the config is unchanged. */
export class StorageOpener {
  private readonly properties: ConfigProperty[];
  private readonly cache = new Map<string, BackupStorage>();

  constructor(readonly plugin: BackupStoragePlugin) {
    this.properties = describeConfigSchema(plugin.configSchema);
  }

  open(storeIdValue: unknown, scfg: unknown): BackupStorage {
    const storeId = toStr(storeIdValue, 'storeid');
    const key = `${storeId}\0${JSON.stringify(scfg)}`;
    const cached = this.cache.get(key);
    if (cached) return cached;
    const config = configFromScfg(scfg, storeId, this.plugin.configSchema, this.properties);
    const storage = this.plugin.open(storeId, config);
    if (this.cache.size >= CACHE_LIMIT) this.cache.delete(this.cache.keys().next().value as string);
    this.cache.set(key, storage);
    return storage;
  }
}

function attributeOf(value: unknown): VolumeAttribute {
  const name = toStr(value, 'attribute');
  if (name === 'notes' || name === 'protected') return name;
  throw new BpError('BP_NOT_SUPPORTED', `volume attribute '${name}' is not supported; use notes or protected`);
}

function noSnapshots(snapname: unknown, what: string): void {
  if (!isAbsent(snapname)) throw new BpError('BP_NOT_SUPPORTED', `${what}: backup volumes have no snapshots`);
}

// `$keep` arrives as PVE's parsed hash (`{ 'keep-last' => "3" }`) or as the option string.
function keepOf(value: unknown): string | Record<string, number | boolean> {
  if (typeof value === 'string') return value;
  const keep: Record<string, number | boolean> = {};
  for (const [key, option] of Object.entries(toHash(value, 'keep', true))) keep[key] = toInt(option, `keep.${key}`);
  return keep;
}

function pruneEntry(entry: PruneResultEntry): Record<string, unknown> {
  return { volid: entry.volid, ctime: entry.ctime, type: entry.type, vmid: entry.vmid, mark: entry.mark };
}

/**
 * The storage plugin methods of spec section 2, keyed by their Perl names. Parameters carry
 * PVE's argument names; results have the shape the Perl forwarder returns (lists as arrays,
 * booleans as 1/0, hyphenated keys).
 */
export function storageHandlers(opener: StorageOpener): Record<string, Handler> {
  const open = (params: Record<string, unknown>): BackupStorage => opener.open(params.storeid, params.scfg);
  return {
    async parse_volname(params) {
      const parsed = open(params).parseVolname(toStr(params.volname, 'volname'));
      return [parsed.vtype, parsed.name, parsed.vmid];
    },
    async path(params) {
      noSnapshots(params.snapname, 'path');
      const found = await open(params).path(toStr(params.volname, 'volname'));
      return [found.path, found.vmid, found.vtype];
    },
    async list_volumes(params) {
      const contentTypes = params['content-types'];
      if (Array.isArray(contentTypes) && !contentTypes.includes('backup')) return [];
      const vmid = toOptionalInt(params.vmid, 'vmid');
      const volumes = await open(params).listVolumes(vmid === undefined ? {} : { vmid });
      return volumes.map((volume) => ({ ...volume, protected: perlBool(volume.protected) }));
    },
    async volume_size_info(params) {
      const info = await open(params).volumeSizeInfo(toStr(params.volname, 'volname'));
      return [info.size, info.format, info.used, info.parent ?? null, info.ctime];
    },
    async status(params) {
      const status = await open(params).status();
      return [status.total, status.available, status.used, perlBool(status.active)];
    },
    async activate_storage(params) {
      await open(params).activateStorage();
      return null;
    },
    async prune_backups(params, context) {
      const type = toOptionalStr(params.type, 'type');
      if (type !== undefined && type !== 'qemu' && type !== 'lxc') return [];
      const vmid = toOptionalInt(params.vmid, 'vmid');
      const entries = await open(params).pruneBackups(keepOf(params.keep), {
        ...(vmid === undefined ? {} : { vmid }),
        ...(type === undefined ? {} : { type }),
        dryRun: toBool(params.dryrun, 'dryrun'),
        log: context.log,
      });
      return entries.map(pruneEntry);
    },
    async free_image(params) {
      await open(params).freeImage(toStr(params.volname, 'volname'));
      return null;
    },
    async get_volume_attribute(params) {
      const attribute = toStr(params.attribute, 'attribute');
      if (attribute !== 'notes' && attribute !== 'protected') return null; // PVE: undef = unsupported
      const value = await open(params).getVolumeAttribute(toStr(params.volname, 'volname'), attribute);
      if (value === undefined) return null;
      return typeof value === 'boolean' ? perlBool(value) : value;
    },
    async update_volume_attribute(params) {
      const attribute = attributeOf(params.attribute);
      const value = attribute === 'protected' ? toBool(params.value, 'value') : (toOptionalStr(params.value, 'value') ?? '');
      await open(params).updateVolumeAttribute(toStr(params.volname, 'volname'), attribute, value);
      return null;
    },
  };
}
