import { BpError } from '@bp/api/errors';
import { MAX_BACKING_NAME_BYTES } from './format.js';

/** Options for `createQcow2Target`. */
export interface Qcow2TargetOptions {
  /** File to create; must not exist. */
  readonly path: string;
  /** Virtual disk size in bytes (a multiple of 512). */
  readonly size: number;
  /** Backing file name stored verbatim in the header (relative names resolve against the image's directory). */
  readonly backingFile?: string;
  /** Format of the backing file (default `qcow2` when `backingFile` is set). */
  readonly backingFormat?: 'qcow2';
  /** Cluster size, a power of two from 4 KiB to 2 MiB (default 64 KiB). */
  readonly clusterSize?: number;
  /**
   * Reads guest bytes of the backing chain (e.g. `openImageReader`). With it, an overlay
   * accepts writes that cover only part of a cluster not written before: the rest of the cluster is
   * read from here. Without it such writes are `BP_INVALID_ARGUMENT`.
   */
  readonly readBacking?: (offset: number, length: number) => Promise<Uint8Array>;
  /**
   * Sees every write to the image file (data, metadata, header) synchronously when it is issued,
   * before it completes: `buffers` land contiguously at file offset `position`. The buffers are
   * valid only during the call. For checksums computed while the data streams (no second read).
   */
  readonly onFileWrite?: (position: number, buffers: readonly Uint8Array[]) => void;
}

/** QEMU's default cluster size. */
export const DEFAULT_CLUSTER_SIZE = 64 * 1024;

/** Rejects options the writer cannot honour, before anything touches the disk. */
export function validateOptions(options: Qcow2TargetOptions, clusterSize: number): void {
  if (!Number.isSafeInteger(options.size) || options.size <= 0 || options.size % 512 !== 0) {
    throw invalid(`size must be a positive multiple of 512, got ${String(options.size)}`);
  }
  if (!Number.isInteger(clusterSize) || clusterSize < 4096 || clusterSize > 2 * 1024 * 1024 || (clusterSize & (clusterSize - 1)) !== 0) {
    throw invalid(`clusterSize must be a power of two from 4096 to 2097152, got ${String(clusterSize)}`);
  }
  if (options.backingFormat !== undefined && options.backingFile === undefined) throw invalid('backingFormat needs backingFile');
  if (options.backingFormat !== undefined && options.backingFormat !== 'qcow2') throw invalid('backingFormat must be qcow2');
  if (options.backingFile !== undefined) {
    const bytes = Buffer.byteLength(options.backingFile, 'utf8');
    if (bytes === 0 || bytes > MAX_BACKING_NAME_BYTES || options.backingFile.includes('\0')) {
      throw invalid(`backingFile must be 1 to ${String(MAX_BACKING_NAME_BYTES)} bytes without NUL`);
    }
  }
}

export function invalid(message: string): BpError {
  return new BpError('BP_INVALID_ARGUMENT', `qcow2 target: ${message}`);
}
