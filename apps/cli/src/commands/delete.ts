import type { CommandSpec } from '../args/command-spec.js';
import type { DeleteJson } from '../output/json-types.js';
import { findVolume, resolveVolumeArgument } from './volume-argument.js';

/** `bp delete <volid>`. */
export const deleteCommand: CommandSpec = {
  name: 'delete',
  summary: 'Delete one backup (protected backups are refused)',
  usage: '<volid> [options]',
  options: [],
  positionals: { min: 1, max: 1, names: 'a volume ID' },
  examples: ['bp delete local:backup/100/qemu-2026-11-26T20:00:00Z'],
  failureCode: 'BP_PROVIDER_FAILED',
  async run(context) {
    const target = await resolveVolumeArgument(context, context.positionals[0]);
    await findVolume(target);
    await target.storage.freeImage(target.volname);
    const json: DeleteJson = { volid: target.volid, deleted: true };
    return { json, text: `Deleted ${target.volid}.` };
  },
};
