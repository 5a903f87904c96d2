import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { BpError, parseWithSchema, type BackupStorage } from '@bp/api';
import { dirExampleType, pluginForType } from '../deps/plugins.js';
import type { BpPaths } from './paths.js';
import { readStoragesFile } from './storages-file.js';

/** The storage used when neither `--storage` nor the file's `default` names one. */
export const DEFAULT_STORAGE_ID = 'local';
/** The storage `bp demo` writes to. */
export const DEMO_STORAGE_ID = 'demo';

/** A storage known to the CLI: embedded (under the data directory) or from the storages file. */
export interface StorageEntry {
  id: string;
  type: string;
  /** Plugin config in PVE spelling (`path`, `vm-backup-mode`, ...), not yet validated. */
  config: Record<string, unknown>;
  source: 'embedded' | 'file';
}

/**
 * The VM backup mechanism of directory storages bp configures (built in, or added without one):
 * bp is the host here, and without a kernel NBD module a file handle is a FUSE file, slower to read.
 */
export const DIRECTORY_VM_MECHANISM = 'nbd';

/**
 * The storages that exist without any configuration: `local` (every command's default) and
 * `demo`, both directory storages under the data directory. Incremental VM backups are on so
 * that `--mode` can choose per backup; VM disks are read with {@link DIRECTORY_VM_MECHANISM}.
 */
export function embeddedStorages(paths: BpPaths): StorageEntry[] {
  const type = dirExampleType();
  return [DEFAULT_STORAGE_ID, DEMO_STORAGE_ID].map((id) => ({
    id,
    type,
    config: { path: join(paths.dataDir, 'storages', id), 'vm-backup-mode': 'incremental', 'vm-backup-mechanism': DIRECTORY_VM_MECHANISM },
    source: 'embedded' as const,
  }));
}

/** All known storages (file entries replace embedded ones of the same ID) and the default ID. */
export async function loadStorages(paths: BpPaths): Promise<{ entries: StorageEntry[]; defaultId: string }> {
  const file = await readStoragesFile(paths.storagesFile);
  const entries = new Map(embeddedStorages(paths).map((entry) => [entry.id, entry]));
  for (const { id, type, ...config } of file.storages) entries.set(id, { id, type, config, source: 'file' });
  const defaultId = file.default ?? DEFAULT_STORAGE_ID;
  if (!entries.has(defaultId)) {
    throw new BpError('BP_INVALID_CONFIG', `the default storage ${JSON.stringify(defaultId)} in ${paths.storagesFile} is not defined; add it or change "default"`, {
      details: { path: paths.storagesFile, default: defaultId },
    });
  }
  return { entries: [...entries.values()], defaultId };
}

/** Finds a storage by ID (or the default), failing with BP_INVALID_CONFIG listing the known IDs. */
export async function findStorage(paths: BpPaths, id: string | undefined): Promise<StorageEntry> {
  const { entries, defaultId } = await loadStorages(paths);
  const wanted = id ?? defaultId;
  const entry = entries.find((candidate) => candidate.id === wanted);
  if (!entry) {
    throw new BpError(
      'BP_INVALID_CONFIG',
      `storage ${JSON.stringify(wanted)} is not configured; known: ${entries.map((candidate) => candidate.id).join(', ')} (add one with \`bp storage add\`)`,
      { details: { storage: wanted } },
    );
  }
  return entry;
}

/**
 * Validates an entry's config with its plugin's schema and opens it. `overrides` replace config
 * keys for this process only (e.g. `--mode` sets `vm-backup-mode`).
 */
export async function openStorageEntry(entry: StorageEntry, overrides: Record<string, unknown> = {}): Promise<BackupStorage> {
  const plugin = pluginForType(entry.type);
  const config = parseWithSchema(plugin.configSchema, { ...entry.config, ...overrides }, `config of storage ${entry.id}`);
  // Embedded storages live under the data directory and must work on first use. Search-only for
  // others (0711): an unprivileged container's backup runs as its mapped root and must reach it.
  if (entry.source === 'embedded' && typeof entry.config.path === 'string') await mkdir(entry.config.path, { recursive: true, mode: 0o711 });
  return plugin.open(entry.id, config);
}

/** Finds and opens a storage in one step. */
export async function openStorage(paths: BpPaths, id: string | undefined, overrides: Record<string, unknown> = {}): Promise<BackupStorage> {
  return openStorageEntry(await findStorage(paths, id), overrides);
}
