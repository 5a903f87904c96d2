import { BpError } from '@bp/api';
import type { CommandSpec } from '../args/command-spec.js';
import type { VerifyJson } from '../output/json-types.js';
import { openStorage } from '../config/storage-registry.js';
import { findVolume, resolveVolumeArgument } from './volume-argument.js';

/** `bp verify [volid]`. */
export const verifyCommand: CommandSpec = {
  name: 'verify',
  summary: 'Re-read backups against their recorded checksums (exit 1 if any is damaged)',
  usage: '[volid] [options]',
  options: [],
  positionals: { min: 0, max: 1, names: 'an optional volume ID' },
  examples: ['bp verify', 'bp verify local:backup/100/qemu-2026-11-26T20:00:00Z --json'],
  failureCode: 'BP_VERIFY_FAILED',
  async run(context) {
    const volumeText = context.positionals[0];
    const target = volumeText === undefined ? undefined : await resolveVolumeArgument(context, volumeText);
    if (target) await findVolume(target);
    const storage = target?.storage ?? (await openStorage(context.paths, context.global.storage));
    if (!storage.verify || !storage.plugin.supports.verify) {
      throw new BpError('BP_NOT_SUPPORTED', `storage ${storage.storeId} (${storage.plugin.type}) cannot verify backups; use a storage type that records checksums`);
    }
    const results = await storage.verify(target?.volname);
    const ok = results.every((result) => result.ok);
    const json: VerifyJson = { storage: storage.storeId, ok, results: results.map(({ volid, ok: fine, problems }) => ({ volid, ok: fine, problems })) };
    const lines = results.map((result) => `${result.ok ? 'ok    ' : 'FAILED'}  ${result.volid}${result.problems.map((problem) => `\n        ${problem}`).join('')}`);
    lines.push(results.length === 0 ? 'Nothing to verify.' : `${results.filter((result) => result.ok).length} of ${results.length} backups verified.`);
    return { json, text: lines.join('\n'), exitCode: ok ? 0 : 1 };
  },
};
