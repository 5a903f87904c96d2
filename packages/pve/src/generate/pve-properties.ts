import type { ConfigProperty } from '../translate/config-schema.js';

/**
 * storage.cfg properties PVE's own plugins already define. PVE keeps one global property list,
 * so a plugin may only list these in `options()`; its `properties()` must not redefine them.
 */
export const PVE_DEFINED_PROPERTIES: ReadonlySet<string> = new Set([
  'path', 'nodes', 'disable', 'shared', 'content', 'format', 'prune-backups', 'max-protected-backups', 'maxfiles',
  'server', 'port', 'username', 'password', 'pool', 'export', 'share', 'options', 'mkdir', 'create-base-path',
  'create-subdirs', 'content-dirs', 'preallocation', 'encryption-key', 'master-pubkey', 'fingerprint', 'namespace',
  'datastore', 'is_mountpoint', 'bwlimit', 'subdir', 'domain', 'smbversion', 'keyring', 'monhost', 'krbd', 'fuse',
  'blocksize', 'sparse', 'iscsiprovider', 'target', 'portal', 'nowritecache', 'vgname', 'thinpool', 'saferemove',
  'saferemove_throughput', 'tagged_only', 'base', 'transport', 'snapshot-as-volume-chain',
]);

/** One entry of the generated `properties()`. */
export type PveProperty = Record<string, unknown>;

function pveType(property: ConfigProperty): string {
  const types = property.types;
  if (types.length === 1 && types[0] === 'boolean') return 'boolean';
  if (types.length === 1 && types[0] === 'integer') return 'integer';
  if (types.length === 1 && types[0] === 'number') return 'number';
  return 'string';
}

/** `properties()`: the plugin's own keys in PVE's JSON schema dialect. */
export function pveProperties(properties: readonly ConfigProperty[], type: string): Record<string, PveProperty> {
  const out: Record<string, PveProperty> = {};
  for (const property of properties) {
    if (PVE_DEFINED_PROPERTIES.has(property.key)) continue;
    const entry: PveProperty = {
      description: property.description ?? `${property.key} (storage type ${type}; see the plugin's documentation).`,
      type: pveType(property),
    };
    if (property.enum) entry.enum = property.enum;
    if (property.default !== undefined && typeof property.default !== 'object') entry.default = property.default;
    if (entry.type === 'integer' || entry.type === 'number') {
      if (property.minimum !== undefined) entry.minimum = property.minimum;
      if (property.maximum !== undefined && property.maximum < Number.MAX_SAFE_INTEGER) entry.maximum = property.maximum;
    }
    out[property.key] = entry;
  }
  return out;
}

/** `options()`: every key; `path` is fixed (as the directory plugin's), required keys are not optional. */
export function pveOptions(properties: readonly ConfigProperty[]): Record<string, PveProperty> {
  const out: Record<string, PveProperty> = {};
  for (const property of properties) {
    if (property.key === 'path') out.path = { fixed: 1 };
    else out[property.key] = property.required ? {} : { optional: 1 };
  }
  return out;
}
