/**
 * Storage configs written for the v3 example the project started from name the VM mechanism
 * `block-device`; the final API calls the same mechanism `file-handle` (a FUSE file over the
 * export handed to the provider). Such configs load with the new name and one notice line instead
 * of being refused, so a storage.cfg from the v3 days keeps working.
 */

/** Renamed values per key: v3 value -> final API value. */
export const V3_STORAGE_CONFIG_NAMES: Readonly<Record<string, Readonly<Record<string, string>>>> = {
  'vm-backup-mechanism': { 'block-device': 'file-handle' },
};

/** Where notices go; replace it (e.g. in tests or a host with its own log) with {@link setStorageConfigNoticeSink}. */
export type StorageConfigNoticeSink = (line: string) => void;

const printed = new Set<string>();
// One line per distinct notice and process: configs are parsed on every open, the notice is news once.
const stderrOnce: StorageConfigNoticeSink = (line) => {
  if (printed.has(line)) return;
  printed.add(line);
  process.stderr.write(`${line}\n`);
};
let sink: StorageConfigNoticeSink = stderrOnce;

/** Routes v3-name notices to `next` (default: one line on stderr per distinct notice); returns the previous sink. */
export function setStorageConfigNoticeSink(next: StorageConfigNoticeSink | undefined): StorageConfigNoticeSink {
  const previous = sink;
  sink = next ?? stderrOnce;
  return previous;
}

/** The notices {@link upgradeV3StorageConfig} would print for `input`, one line each. */
export function v3StorageConfigNotices(input: unknown): string[] {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) return [];
  const config = input as Record<string, unknown>;
  const where = typeof config.path === 'string' ? ` of the storage at ${config.path}` : '';
  return Object.entries(V3_STORAGE_CONFIG_NAMES).flatMap(([key, renames]) => {
    const value = config[key];
    const renamed = typeof value === 'string' && Object.hasOwn(renames, value) ? renames[value] : undefined;
    return renamed === undefined
      ? []
      : [`bp: notice: ${key} "${value}"${where} is the v3 example's name, loaded as "${renamed}"; write "${renamed}" in the config to silence this`];
  });
}

/**
 * Replaces v3 names in a raw storage config with the final API's (a copy; the input is not
 * changed) and reports each replacement through the notice sink. Anything else passes unchanged.
 */
export function upgradeV3StorageConfig(input: unknown): unknown {
  const notices = v3StorageConfigNotices(input);
  if (notices.length === 0) return input;
  const config: Record<string, unknown> = { ...(input as Record<string, unknown>) };
  for (const [key, renames] of Object.entries(V3_STORAGE_CONFIG_NAMES)) {
    const value = config[key];
    if (typeof value === 'string' && Object.hasOwn(renames, value)) config[key] = renames[value];
  }
  for (const line of notices) sink(line);
  return config;
}
