import { mkdir } from 'node:fs/promises';
import { BpError, isValidStorageId, parseWithSchema } from '@bp/api';
import type { CommandSpec } from '../args/command-spec.js';
import { absolutePath, parseByteSize, parseCount, stringValue } from '../args/values.js';
import { dirExampleType, pluginForType } from '../deps/plugins.js';
import { DIRECTORY_VM_MECHANISM, loadStorages, type StorageEntry } from '../config/storage-registry.js';
import { readStoragesFile, writeStoragesFile } from '../config/storages-file.js';
import { usageError } from '../errors/usage-error.js';
import type { StorageChangeJson, StorageJson, StorageListJson } from '../output/json-types.js';
import { renderTable } from '../output/table.js';

function storageJson(entry: StorageEntry, defaultId: string): StorageJson {
  return { id: entry.id, type: entry.type, source: entry.source, default: entry.id === defaultId, config: entry.config };
}

/** `bp storage list`. */
export const storageListCommand: CommandSpec = {
  name: 'storage list',
  summary: 'List the configured storages (embedded ones included)',
  usage: '[options]',
  options: [],
  positionals: { min: 0, max: 0, names: 'no arguments' },
  examples: ['bp storage list', 'bp storage list --json'],
  failureCode: 'BP_INVALID_CONFIG',
  async run(context) {
    const { entries, defaultId } = await loadStorages(context.paths);
    const json: StorageListJson = { configFile: context.paths.storagesFile, storages: entries.map((entry) => storageJson(entry, defaultId)) };
    const text = renderTable(
      [
        { header: 'ID', value: (row: StorageJson) => `${row.id}${row.default ? ' *' : ''}` },
        { header: 'TYPE', value: (row) => row.type },
        { header: 'SOURCE', value: (row) => row.source },
        { header: 'PATH', value: (row) => String(row.config.path ?? '') },
      ],
      json.storages,
    );
    return { json, text: `${text}\n(* = default; configuration file: ${context.paths.storagesFile})` };
  },
};

/** `bp storage add <id> --path <dir>`. */
export const storageAddCommand: CommandSpec = {
  name: 'storage add',
  summary: 'Add a directory storage to the storages file',
  usage: '<id> --path <dir> [options]',
  description: 'The settings are those of PVE\'s storage.cfg for a backup-provider storage; they are validated before anything is written.',
  options: [
    { name: 'path', type: 'string', argument: '<dir>', description: 'directory the storage owns (created if missing)' },
    { name: 'type', type: 'string', argument: '<type>', description: 'storage plugin type', defaultText: 'the directory example' },
    { name: 'vm-backup-mode', type: 'string', argument: '<full|incremental>', description: 'VM backup mode', defaultText: 'full' },
    { name: 'vm-backup-mechanism', type: 'string', argument: '<nbd|file-handle>', description: 'VM backup mechanism', defaultText: DIRECTORY_VM_MECHANISM },
    { name: 'lxc-backup-mode', type: 'string', argument: '<tar|squashfs>', description: 'container archive format', defaultText: 'tar' },
    { name: 'prune-backups', type: 'string', argument: '<list>', description: 'retention, e.g. keep-daily=7,keep-last=3' },
    { name: 'max-protected-backups', type: 'string', argument: '<n>', description: 'protected backups per guest (-1 = unlimited)' },
    { name: 'max-chain-length', type: 'string', argument: '<n>', description: 'longest incremental chain (full + incrementals); 0 = unlimited', defaultText: '0' },
    { name: 'chain-limit-action', type: 'string', argument: '<full|merge>', description: 'at the chain limit: read in full, or merge into a synthetic full', defaultText: 'full' },
    { name: 'full-read-every', type: 'string', argument: '<n>', description: 'every N-th backup reads the whole disk and repairs the chain; 0 = never', defaultText: '0' },
    { name: 'full-read-days', type: 'string', argument: '<n>', description: 'a full read when the last one is N days old; 0 = never', defaultText: '0' },
    { name: 'bitmap-granularity', type: 'string', argument: '<size>', description: 'dirty-bitmap granularity, a power of two from 4K to 64M', defaultText: '64K' },
    { name: 'default', type: 'boolean', description: 'make it the default storage' },
  ],
  positionals: { min: 1, max: 1, names: 'a storage ID' },
  examples: [
    'bp storage add nas --path /mnt/nas/bp --vm-backup-mode incremental --default',
    'bp storage add offsite --path /mnt/offsite/bp --vm-backup-mode incremental --max-chain-length 14 --full-read-every 7',
  ],
  failureCode: 'BP_INVALID_CONFIG',
  async run(context) {
    const id = context.positionals[0] ?? '';
    if (!isValidStorageId(id)) throw usageError(`storage ID ${JSON.stringify(id)} is not valid: use letters, digits, '-', '_' and '.', starting with a letter`);
    const path = stringValue(context.values, 'path');
    if (path === undefined) throw usageError('--path <dir> is required');
    const type = stringValue(context.values, 'type') ?? dirExampleType();
    const config: Record<string, unknown> = { path: absolutePath(context.io.cwd, path) };
    for (const key of ['vm-backup-mode', 'vm-backup-mechanism', 'lxc-backup-mode', 'prune-backups', 'chain-limit-action'] as const) {
      const value = stringValue(context.values, key);
      if (value !== undefined) config[key] = value;
    }
    if (type === dirExampleType() && config['vm-backup-mechanism'] === undefined) config['vm-backup-mechanism'] = DIRECTORY_VM_MECHANISM;
    const maxProtected = stringValue(context.values, 'max-protected-backups');
    if (maxProtected !== undefined) config['max-protected-backups'] = maxProtected === '-1' ? -1 : parseCount(maxProtected, '--max-protected-backups');
    for (const key of ['max-chain-length', 'full-read-every', 'full-read-days'] as const) {
      const value = stringValue(context.values, key);
      if (value !== undefined) config[key] = parseCount(value, `--${key}`);
    }
    const granularity = stringValue(context.values, 'bitmap-granularity');
    if (granularity !== undefined) config['bitmap-granularity'] = parseByteSize(granularity, '--bitmap-granularity');
    parseWithSchema(pluginForType(type).configSchema, config, `storage ${id}`);
    const file = await readStoragesFile(context.paths.storagesFile);
    if (file.storages.some((entry) => entry.id === id)) {
      throw new BpError('BP_ALREADY_EXISTS', `storage ${id} is already in ${context.paths.storagesFile}; remove it first with \`bp storage remove ${id}\``, { details: { id } });
    }
    await mkdir(String(config.path), { recursive: true });
    file.storages.push({ id, type, ...config });
    if (context.values.default === true) file.default = id;
    await writeStoragesFile(context.paths.storagesFile, file);
    const entry: StorageEntry = { id, type, config, source: 'file' };
    const json: StorageChangeJson = { configFile: context.paths.storagesFile, storage: storageJson(entry, file.default ?? ''), action: 'added' };
    return { json, text: `Added storage ${id} (${type}, ${String(config.path)}).` };
  },
};

/** `bp storage remove <id>`. */
export const storageRemoveCommand: CommandSpec = {
  name: 'storage remove',
  summary: 'Remove a storage from the storages file (its backups stay on disk)',
  usage: '<id> [options]',
  options: [],
  positionals: { min: 1, max: 1, names: 'a storage ID' },
  examples: ['bp storage remove nas'],
  failureCode: 'BP_INVALID_CONFIG',
  async run(context) {
    const id = context.positionals[0] ?? '';
    const file = await readStoragesFile(context.paths.storagesFile);
    const index = file.storages.findIndex((entry) => entry.id === id);
    const found = file.storages[index];
    if (!found) {
      const embedded = (await loadStorages(context.paths)).entries.some((entry) => entry.id === id && entry.source === 'embedded');
      throw new BpError(
        'BP_NOT_FOUND',
        embedded ? `storage ${id} is built in and cannot be removed` : `storage ${id} is not in ${context.paths.storagesFile}; see \`bp storage list\``,
        { details: { id } },
      );
    }
    file.storages.splice(index, 1);
    if (file.default === id) delete file.default;
    await writeStoragesFile(context.paths.storagesFile, file);
    const { id: _id, type, ...config } = found;
    const json: StorageChangeJson = { configFile: context.paths.storagesFile, storage: storageJson({ id, type, config, source: 'file' }, ''), action: 'removed' };
    return { json, text: `Removed storage ${id}; its backups in ${String(config.path ?? '?')} were left in place.` };
  },
};
