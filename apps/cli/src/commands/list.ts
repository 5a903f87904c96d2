import type { CommandSpec } from '../args/command-spec.js';
import { parseVmid } from '../args/values.js';
import { openStorage } from '../config/storage-registry.js';
import type { ListJson } from '../output/json-types.js';
import { backupJson, renderBackupTable } from './backup-rows.js';

/** `bp list [vmid]`. */
export const listCommand: CommandSpec = {
  name: 'list',
  summary: 'List the complete backups of a storage (optionally of one guest)',
  usage: '[vmid] [options]',
  options: [],
  positionals: { min: 0, max: 1, names: 'an optional vmid' },
  examples: ['bp list', 'bp list 100 --storage nas', 'bp list --json'],
  failureCode: 'BP_STORAGE_UNAVAILABLE',
  async run(context) {
    const vmid = context.positionals[0] === undefined ? undefined : parseVmid(context.positionals[0]);
    const storage = await openStorage(context.paths, context.global.storage);
    const volumes = await storage.listVolumes(vmid === undefined ? {} : { vmid });
    const json: ListJson = { storage: storage.storeId, backups: volumes.map(backupJson) };
    const text = volumes.length === 0
      ? `No backups${vmid === undefined ? '' : ` of guest ${vmid}`} on storage ${storage.storeId}.`
      : renderBackupTable(volumes);
    return { json, text };
  },
};
