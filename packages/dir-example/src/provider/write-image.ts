import { rm } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { BpError, type BackupProgressFunction } from '@bp/api';
import { copyRegions, type CopyProgress, type CopyStats, type CopyTarget, type VolumeSource } from '@bp/nbd';
import { createQcow2Target, openImageReader, qcow2ClusterSizeFits, readQcow2Header, type Qcow2TargetOptions } from '@bp/nbd/qcow2';
import { fsyncPath } from '../util/durable-fs.js';
import { InlineChecksums } from '../verify/inline-checksums.js';
import { storeChecksums } from '../verify/stored-checksums.js';
import { differencesOnly, type DifferenceStats } from './differences-target.js';

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
  /**
   * With `backingFile`: store only what differs from the previous restore point, counting into
   * these stats (a scheduled full read that checks and repairs the chain; see differencesOnly).
   */
  differences?: DifferenceStats;
  /** Where to report bytes processed (`BackupVmInfo.onProgress`), and for which device. */
  progress?: { device: string; report: BackupProgressFunction | undefined };
}

const MIN_CLUSTER_SIZE = 64 * 1024;
const MAX_CLUSTER_SIZE = 2 * 1024 * 1024;

/**
 * Creates an image with the direct qcow2 writer, at the smallest cluster size from `firstClusterSize`
 * up to 2 MiB whose metadata the writer can lay out for this disk size.
 */
async function createImageTarget(options: Omit<Qcow2TargetOptions, 'clusterSize'>, firstClusterSize: number): Promise<CopyTarget> {
  let clusterSize = firstClusterSize;
  while (clusterSize < MAX_CLUSTER_SIZE && !qcow2ClusterSizeFits(options.size, clusterSize)) clusterSize *= 2;
  // At 2 MiB a size that still does not fit is refused by the writer with BP_INVALID_ARGUMENT.
  return createQcow2Target({ ...options, clusterSize });
}

async function copyInto(source: VolumeSource, target: CopyTarget, options: WriteImageOptions): Promise<CopyStats> {
  try {
    return await copyRegions({
      source: source.source,
      target,
      regions: source.regions,
      discardSource: true,
      ...(options.bandwidthLimit ? { bandwidthLimit: options.bandwidthLimit } : {}),
      ...(options.signal ? { signal: options.signal } : {}),
      onWarning: (warning: BpError) => options.onWarning?.(warning.message),
      ...(source.totalBytes !== undefined ? { totalBytes: source.totalBytes } : {}),
      ...(options.progress?.report ? { onProgress: progressReport(options.progress.device, options.progress.report) } : {}),
    });
  } finally {
    await target.close();
  }
}

/** Turns the copy engine's reports into the provider API's; a throwing consumer never stops the copy. */
function progressReport(device: string, report: BackupProgressFunction): (progress: CopyProgress) => void {
  return ({ bytesDone, bytesTotal }) => {
    try {
      report({ device, bytesDone, ...(bytesTotal !== undefined ? { bytesTotal } : {}) });
    } catch {
      // Progress is informational only.
    }
  };
}

/**
 * Writes an incremental: a qcow2 overlay of the previous image, directly, at the previous image's
 * cluster size (so dirty-bitmap granules line up with the backing clusters). A write that covers
 * only part of a cluster is completed from the previous image's chain through a read-only qemu-nbd
 * that starts on the first such write only and is always stopped.
 */
async function writeIncremental(source: VolumeSource, backingFile: string, options: WriteImageOptions, checksums: InlineChecksums): Promise<CopyStats> {
  const previous = resolve(dirname(options.imagePath), backingFile);
  const previousClusterSize = 2 ** (await readQcow2Header(previous)).clusterBits;
  // Format forced to qcow2 (never probed); qemu-nbd opens the whole backing chain read-only.
  const reader = openImageReader(previous, 'qcow2');
  try {
    const clusterSize = Math.min(Math.max(previousClusterSize, MIN_CLUSTER_SIZE), MAX_CLUSTER_SIZE);
    const readBacking = (offset: number, length: number): Promise<Uint8Array> => reader.read(offset, length);
    const target = await createImageTarget(
      {
        path: options.imagePath,
        size: options.size,
        backingFile,
        backingFormat: 'qcow2',
        readBacking,
        onFileWrite: (position, buffers) => checksums.observe(position, buffers),
      },
      clusterSize,
    );
    return await copyInto(source, options.differences ? differencesOnly(target, readBacking, clusterSize, options.differences) : target, options);
  } finally {
    await reader.close();
  }
}

/**
 * Writes one device image with @bp/nbd's copy engine (zero detection, discard after read,
 * bandwidth limit) and its direct qcow2 writer (no helper process for aligned writes). A full
 * image stands alone; an incremental is a qcow2 overlay of the previous image (see
 * {@link writeIncremental}). The manifest checksums are taken from the writes as they are issued
 * and stored next to the image for publication (see {@link InlineChecksums}). Flushes and fsyncs;
 * removes the file on failure.
 */
export async function writeImage(source: VolumeSource, options: WriteImageOptions): Promise<CopyStats> {
  const checksums = new InlineChecksums();
  try {
    const stats =
      options.backingFile === undefined
        ? await copyInto(
            source,
            await createImageTarget({ path: options.imagePath, size: options.size, onFileWrite: (position, buffers) => checksums.observe(position, buffers) }, MIN_CLUSTER_SIZE),
            options,
          )
        : await writeIncremental(source, options.backingFile, options, checksums);
    await fsyncPath(options.imagePath);
    await storeChecksums(options.imagePath, await checksums.finish(options.imagePath));
    return stats;
  } catch (error) {
    await rm(options.imagePath, { force: true });
    throw error;
  }
}
