import { z } from 'zod';
import { BpError, parseWithSchema } from '../../errors/index.js';

/** The counting retention options, in the order PVE applies them (shortest period first). */
export const PRUNE_KEEP_COUNT_KEYS = ['keep-last', 'keep-hourly', 'keep-daily', 'keep-weekly', 'keep-monthly', 'keep-yearly'] as const;

/** One counting retention option. */
export type PruneKeepCountKey = (typeof PRUNE_KEEP_COUNT_KEYS)[number];

const keepCount = z.number().int().min(0);

/**
 * The `prune-backups` option set, as PVE's `$prune_backups_format` (pve-storage
 * `PVE::Storage::Plugin`): `keep-all` (boolean) and the counts `keep-last`, `keep-hourly`,
 * `keep-daily`, `keep-weekly`, `keep-monthly`, `keep-yearly` (integers >= 0). Unknown keys are
 * rejected, and so is `keep-all: true` together with a positive count (`validate_prune_backups`:
 * "keep-all cannot be set together with other options").
 */
export const pruneOptionsSchema = z
  .strictObject({
    'keep-all': z.boolean().optional(),
    'keep-last': keepCount.optional(),
    'keep-hourly': keepCount.optional(),
    'keep-daily': keepCount.optional(),
    'keep-weekly': keepCount.optional(),
    'keep-monthly': keepCount.optional(),
    'keep-yearly': keepCount.optional(),
  })
  .refine((options) => !(options['keep-all'] === true && PRUNE_KEEP_COUNT_KEYS.some((key) => (options[key] ?? 0) > 0)), {
    message: 'keep-all cannot be set together with other options',
    path: ['keep-all'],
  });

/** A validated `prune-backups` option set. */
export type PruneOptions = z.output<typeof pruneOptionsSchema>;

/** What {@link parsePruneOptions} accepts: an object or PVE's property string. */
export type PruneOptionsInput = PruneOptions | Record<string, unknown> | string;

// PVE::JSONSchema::parse_boolean.
const TRUE_WORDS = /^(?:1|on|yes|true)$/i;
const FALSE_WORDS = /^(?:0|off|no|false)$/i;

function invalidString(text: string, problem: string): BpError {
  return new BpError('BP_INVALID_CONFIG', `invalid prune-backups ${JSON.stringify(text)}: ${problem}; write it like keep-daily=7,keep-last=3`, {
    details: { text, problem },
  });
}

/**
 * Reads PVE's property-string form (`keep-daily=7,keep-last=3`), as
 * `PVE::JSONSchema::parse_property_string` does: comma-separated `key=value` parts, blank parts
 * ignored, a key at most once, booleans as 1/0, yes/no, on/off, true/false.
 */
function objectFromPropertyString(text: string): Record<string, unknown> {
  const result: Record<string, unknown> = {};
  for (const part of text.split(',')) {
    if (/^\s*$/.test(part)) continue;
    const match = /^([^=]+)=(.+)$/.exec(part);
    if (!match) throw invalidString(text, `'${part}' is not key=value`);
    const [, key = '', raw = ''] = match;
    if (Object.hasOwn(result, key)) throw invalidString(text, `duplicate key '${key}'`);
    let value: unknown = raw;
    if (key === 'keep-all') {
      if (TRUE_WORDS.test(raw)) value = true;
      else if (FALSE_WORDS.test(raw)) value = false;
    } else if (/^[+-]?\d+$/.test(raw)) {
      value = Number(raw);
    }
    result[key] = value; // anything left as a string is rejected by the schema with a clear message
  }
  return result;
}

/** True when the option set keeps everything: `keep-all`, or no count above zero. */
export function keepsAll(options: PruneOptions): boolean {
  return options['keep-all'] === true || PRUNE_KEEP_COUNT_KEYS.every((key) => (options[key] ?? 0) <= 0);
}

/**
 * Validates and normalizes a `prune-backups` option set given as an object or as PVE's string
 * form. Like `validate_prune_backups`, an empty or all-zero set means keep-all; the result is
 * either `{ 'keep-all': true }` or only the positive counts. Throws `BP_INVALID_CONFIG` for
 * unknown keys, negative or non-integer counts, malformed strings and `keep-all` combined with a
 * positive count.
 */
export function parsePruneOptions(input: PruneOptionsInput): PruneOptions {
  const raw = typeof input === 'string' ? objectFromPropertyString(input) : input;
  const options = parseWithSchema(pruneOptionsSchema, raw, 'prune-backups');
  if (keepsAll(options)) return { 'keep-all': true };
  const normalized: PruneOptions = {};
  for (const key of PRUNE_KEEP_COUNT_KEYS) {
    const count = options[key];
    if (count !== undefined && count > 0) normalized[key] = count;
  }
  return normalized;
}

/** Writes an option set in PVE's string form, counts in PVE's order (`keep-last=3,keep-daily=7`). */
export function formatPruneOptions(input: PruneOptionsInput): string {
  const options = parsePruneOptions(input);
  if (options['keep-all'] === true) return 'keep-all=1';
  return PRUNE_KEEP_COUNT_KEYS.filter((key) => options[key] !== undefined)
    .map((key) => `${key}=${String(options[key])}`)
    .join(',');
}
