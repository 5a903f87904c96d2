import { rename, rm } from 'node:fs/promises';
import { runTool } from '../util/run-tool.js';
import { fsyncPath } from '../util/durable-fs.js';
import { forgetStoredChecksums } from '../verify/stored-checksums.js';

/**
 * Turns a freshly written incremental into a standalone image with the same content (a synthetic
 * full): its whole chain is read from the storage, not from the guest, and written to a new
 * qcow2 that replaces the incremental. Older backups are untouched. The format is forced at
 * every layer (the chain was validated when the base was chosen). The checksums taken while the
 * incremental was written no longer apply and are dropped.
 */
export async function mergeIntoSyntheticFull(imagePath: string, signal?: AbortSignal): Promise<void> {
  const temp = `${imagePath}.merge-tmp`;
  try {
    await runTool(
      'qemu-img',
      ['convert', '-q', '-f', 'qcow2', '-O', 'qcow2', '-o', 'cluster_size=65536', '-W', imagePath, temp],
      'BP_BACKUP_FAILED',
      'merge the incremental into a synthetic full image',
      signal ? { cancelSignal: signal } : {},
    );
    await fsyncPath(temp);
    await rename(temp, imagePath);
    await forgetStoredChecksums(imagePath);
  } finally {
    await rm(temp, { force: true });
  }
}
