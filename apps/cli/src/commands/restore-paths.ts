import { openBackupFiles } from '@bp/host';
import type { CommandContext, CommandResult } from '../args/command-spec.js';
import { stringValue } from '../args/values.js';
import { openBackupContext } from './open-backup-context.js';
import type { VolumeArgument } from './volume-argument.js';

/**
 * `bp restore <volid> --path P [--path P2] --to DIR`: only those paths, at their own paths below
 * DIR (`/etc/hosts` -> `DIR/etc/hosts`; on a partitioned VM disk `/part1/etc/hosts`), with
 * owners (numeric, as in the backup), modes, times, xattrs and ACLs.
 */
export async function restorePaths(context: CommandContext, target: VolumeArgument, paths: readonly string[], targetDir: string): Promise<CommandResult> {
  const disk = stringValue(context.values, 'disk');
  const started = Date.now();
  const files = await openBackupFiles({ storage: target.storage, volid: target.volid, ...openBackupContext(context), ...(disk !== undefined ? { disk } : {}) });
  try {
    const restored = await files.restorePaths(paths, targetDir);
    const durationMs = Date.now() - started;
    return {
      json: { volid: target.volid, target: targetDir, paths: restored, durationMs },
      text: [`Restored from ${target.volid}:`, ...restored.map((entry) => `  ${entry.path}  ->  ${entry.target}`)].join('\n'),
    };
  } finally {
    await files.close();
  }
}
