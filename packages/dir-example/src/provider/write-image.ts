import { rm } from 'node:fs/promises';
import { BpError } from '@bp/api';
import { copyRegions, createNbdTarget, createQcow2Target, NbdClient, startQemuNbd, type CopyStats, type CopyTarget } from '@bp/nbd';
import { fsyncPath } from '../util/durable-fs.js';
import { runTool } from '../util/run-tool.js';
import type { OpenSource } from './region-sources.js';

/** Options of {@link writeImage}. */
export interface WriteImageOptions {
  /** The new qcow2 file. */
  imagePath: string;
  /** Virtual size in bytes. */
  size: number;
  /** Relative backing name `../<type>-<time>/<device>.qcow2` for an incremental; undefined = full image. */
  backingFile?: string;
  /** Bytes per second; 0 or undefined = unlimited. */
  bandwidthLimit?: number;
  signal?: AbortSignal;
  /** Non-fatal problems (a failed discard stops discarding). */
  onWarning?: (message: string) => void;
}

/**
 * Creates a full image with the direct qcow2 writer, at the smallest cluster size (64 KiB up to
 * 2 MiB) whose metadata the writer can lay out for this disk size.
 */
async function createFullImage(path: string, size: number): Promise<CopyTarget> {
  for (let clusterSize = 64 * 1024; ; clusterSize *= 2) {
    try {
      return await createQcow2Target({ path, size, clusterSize });
    } catch (error) {
      if (clusterSize >= 2 * 1024 * 1024 || !BpError.hasCode(error, 'BP_INVALID_ARGUMENT') || !/larger cluster size/.test((error as Error).message)) throw error;
    }
  }
}

async function copyInto(source: OpenSource, target: CopyTarget, options: WriteImageOptions): Promise<CopyStats> {
  try {
    return await copyRegions({
      source: source.source,
      target,
      regions: source.regions,
      discardSource: true,
      ...(options.bandwidthLimit ? { bandwidthLimit: options.bandwidthLimit } : {}),
      ...(options.signal ? { signal: options.signal } : {}),
      onWarning: (warning: BpError) => options.onWarning?.(warning.message),
    });
  } finally {
    await target.close();
  }
}

/**
 * Writes one device image with @bp/nbd's copy engine (zero detection, discard after read,
 * bandwidth limit). A full image is written directly as qcow2 (no helper process); an
 * incremental is a qcow2 overlay of the previous image, written through a private qemu-nbd
 * socket so that partial clusters are completed from the backing image (userspace, no /dev/nbdN).
 * Flushes and fsyncs; removes the file on failure.
 */
export async function writeImage(source: OpenSource, options: WriteImageOptions): Promise<CopyStats> {
  try {
    let stats: CopyStats;
    if (options.backingFile === undefined) {
      stats = await copyInto(source, await createFullImage(options.imagePath, options.size), options);
    } else {
      // -u: the backing image was validated already; qemu-img need not open it to learn a size.
      await runTool('qemu-img', ['create', '-q', '-f', 'qcow2', '-u', '-b', options.backingFile, '-F', 'qcow2', options.imagePath, String(options.size)], 'BP_QEMU_FAILED', `create ${options.imagePath}`);
      const server = await startQemuNbd({ image: options.imagePath, format: 'qcow2', discard: 'unmap', cache: 'writeback', ...(options.signal ? { signal: options.signal } : {}) });
      try {
        const client = await NbdClient.connect(server.uri, options.signal ? { signal: options.signal } : {});
        stats = await copyInto(source, createNbdTarget(client, { zeroInitialized: false, closeClient: true }), options);
      } finally {
        await server.stop();
      }
    }
    await fsyncPath(options.imagePath);
    return stats;
  } catch (error) {
    await rm(options.imagePath, { force: true });
    throw error;
  }
}
