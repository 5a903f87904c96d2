import type { CommandSpec } from '../args/command-spec.js';
import type { ProtectJson } from '../output/json-types.js';
import { findVolume, resolveVolumeArgument } from './volume-argument.js';

function protectionCommand(name: 'protect' | 'unprotect', value: boolean): CommandSpec {
  return {
    name,
    summary: value ? 'Protect a backup from prune and delete' : 'Remove the protection of a backup',
    usage: '<volid> [options]',
    options: [],
    positionals: { min: 1, max: 1, names: 'a volume ID' },
    examples: [`bp ${name} local:backup/100/qemu-2026-11-26T20:00:00Z`],
    failureCode: 'BP_PROVIDER_FAILED',
    async run(context) {
      const target = await resolveVolumeArgument(context, context.positionals[0]);
      await findVolume(target);
      await target.storage.updateVolumeAttribute(target.volname, 'protected', value);
      const json: ProtectJson = { volid: target.volid, protected: value };
      return { json, text: `${target.volid} is ${value ? 'now protected' : 'no longer protected'}.` };
    },
  };
}

/** `bp protect <volid>`. */
export const protectCommand = protectionCommand('protect', true);
/** `bp unprotect <volid>`. */
export const unprotectCommand = protectionCommand('unprotect', false);
