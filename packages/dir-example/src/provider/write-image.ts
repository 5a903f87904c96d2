import { rm } from 'node:fs/promises';
import { NbdClient, startQemuNbd } from '@bp/nbd';
import { fsyncPath } from '../util/durable-fs.js';
import { runTool } from '../util/run-tool.js';
import { copyRegions, type CopyRegionsOptions, type CopyStats, type RegionSource } from './copy-regions.js';
import { nbdCopyTarget } from './nbd-target.js';

/** Options of {@link writeImage}. */
export interface WriteImageOptions extends CopyRegionsOptions {
  /** The new qcow2 file. */
  imagePath: string;
  /** Virtual size in bytes. */
  size: number;
  /** Relative backing name `../<type>-<time>/<device>.qcow2` for an incremental; undefined = full image. */
  backingFile?: string;
}

/**
 * Writes one device image: creates the qcow2 (an overlay of the previous image when
 * `backingFile` is set), serves it writable through a private qemu-nbd socket (userspace, no
 * /dev/nbdN), copies the source's regions into it, flushes and fsyncs. Removes the file on failure.
 */
export async function writeImage(source: RegionSource, options: WriteImageOptions): Promise<CopyStats> {
  const createArgs = ['create', '-q', '-f', 'qcow2'];
  // -u: the backing image was validated already; qemu-img need not open it to learn a size.
  if (options.backingFile) createArgs.push('-u', '-b', options.backingFile, '-F', 'qcow2');
  createArgs.push(options.imagePath, String(options.size));
  try {
    await runTool('qemu-img', createArgs, 'BP_QEMU_FAILED', `create ${options.imagePath}`);
    const server = await startQemuNbd({ image: options.imagePath, format: 'qcow2', discard: 'unmap', cache: 'writeback', signal: options.signal });
    let stats: CopyStats;
    try {
      const target = nbdCopyTarget(await NbdClient.connect(server.uri, { signal: options.signal }), options.backingFile === undefined);
      try {
        stats = await copyRegions(source, target, options);
        await target.flush();
      } finally {
        await target.close();
      }
    } finally {
      await server.stop();
    }
    await fsyncPath(options.imagePath);
    return stats;
  } catch (error) {
    await rm(options.imagePath, { force: true });
    throw error;
  }
}
