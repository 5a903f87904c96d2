import { BpError, parseWithSchema } from '@bp/api';
import type { z } from 'zod';
import type { ConfigProperty } from './config-schema.js';

/** Keys PVE adds to every `$scfg` that are not plugin configuration. */
export const PVE_INTERNAL_KEYS: readonly string[] = ['type', 'content', 'digest', 'shared', 'storage'];

function coerce(property: ConfigProperty | undefined, value: unknown): unknown {
  if (property === undefined) return value;
  const types = property.types;
  if (types.includes('boolean') && (value === 0 || value === 1 || value === '0' || value === '1')) return value === 1 || value === '1';
  if ((types.includes('integer') || types.includes('number')) && typeof value === 'string' && /^-?[0-9]+(\.[0-9]+)?$/.test(value)) return Number(value);
  if (types.includes('array') && !Array.isArray(value)) {
    // PVE parses list options (`nodes`) into a hash of name => 1; storage.cfg itself holds a comma list.
    if (typeof value === 'object' && value !== null) return Object.keys(value).sort();
    if (typeof value === 'string') return value.split(/[,;\s]+/).filter(Boolean);
  }
  return value;
}

/**
 * PVE's `$scfg` as the plugin's config: drops PVE's own keys (`type`, `content`, `digest`,
 * `shared`), turns the `nodes` hash into a list, 1/0 into booleans and numeric strings into
 * numbers where the schema wants them, then validates with the plugin's `configSchema`
 * (BP_INVALID_CONFIG naming the storage).
 */
export function configFromScfg<Config>(scfg: unknown, storeId: string, schema: z.ZodType<Config, unknown>, properties: readonly ConfigProperty[]): Config {
  if (typeof scfg !== 'object' || scfg === null || Array.isArray(scfg)) {
    throw new BpError('BP_INVALID_CONFIG', `storage '${storeId}': the storage configuration is not a hash`);
  }
  const byKey = new Map(properties.map((property) => [property.key, property]));
  const config: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(scfg as Record<string, unknown>)) {
    if (PVE_INTERNAL_KEYS.includes(key) || value === null || value === undefined) continue;
    config[key] = coerce(byKey.get(key), value);
  }
  return parseWithSchema(schema, config, `configuration of storage '${storeId}' (storage.cfg)`) as Config;
}
