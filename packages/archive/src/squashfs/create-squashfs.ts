import { randomBytes } from 'node:crypto';
import { open, rename, rm, stat } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { BpError, toolError } from '@bp/api';
import { execa } from 'execa';
import type { CompiledExclusions } from '../exclusions/index.js';
import { resolveExclusions } from '../exclusions/compile-exclusions.js';
import { StderrTail } from '../process/stderr-tail.js';
import { normalizeSources } from '../sources.js';
import { startIoPacer } from './io-pacer.js';
import { squashfsSourceExclusions } from './source-exclusions.js';

/** Compressors mksquashfs offers. */
export type SquashfsCompression = 'gzip' | 'zstd' | 'xz' | 'lz4' | 'lzo' | 'lzma';

/** Options of {@link createSquashfsArchive}. */
export interface CreateSquashfsOptions {
  /** The container root (vzdump's `directory`). */
  directory: string;
  /** Paths relative to `directory` (vzdump's `sources`); default `['./']`. */
  sources?: readonly string[];
  /** Exclusion patterns (vzdump/PBS semantics) or an already compiled set. */
  exclude?: readonly string[] | CompiledExclusions;
  /** Add PVE's standard exclusions; default false. */
  standardExclusions?: boolean;
  /** The image file; written under a temporary name next to it and renamed when complete. */
  output: string;
  /** Default `'gzip'` (readable by every kernel and squashfuse). */
  compression?: SquashfsCompression;
  /**
   * Bytes per second mksquashfs may read (vzdump's `bandwidth-limit`), enforced by pausing it
   * when its read counter runs ahead; 0 = unlimited. Reads include all bytes of sparse files.
   */
  bandwidthLimit?: number;
  /** mksquashfs worker threads; default: all processors. */
  processors?: number;
  /** Called with the bytes mksquashfs has read so far, about every 20 ms. */
  onProgress?: (progress: { bytes: number }) => void;
  signal?: AbortSignal;
}

/** What {@link createSquashfsArchive} produced. */
export interface CreateSquashfsResult {
  /** Size of the image file. */
  writtenBytes: number;
  /** Bytes mksquashfs read (sources, and its own output for duplicate detection). */
  readBytes: number;
}

/**
 * Builds a squashfs image of a container tree with mksquashfs: only `sources` (unlike the
 * original example, which took the whole directory), the same exclusions as tar,
 * `-one-file-system`, xattrs kept (`user.*`, `security.*`; squashfs cannot store POSIX ACLs),
 * owners numeric. Works for any user who can read the tree and write the output's directory.
 *
 * @throws BpError `BP_ARCHIVE_FAILED` with mksquashfs' stderr (no image is left behind),
 *   `BP_ALREADY_EXISTS`, `BP_INVALID_ARGUMENT`, `BP_ABORTED`.
 */
export async function createSquashfsArchive(options: CreateSquashfsOptions): Promise<CreateSquashfsResult> {
  const sources = normalizeSources(options.sources);
  const exclusions = resolveExclusions(options.exclude, options.standardExclusions);
  if (await stat(options.output).then(() => true, () => false)) {
    throw new BpError('BP_ALREADY_EXISTS', `${options.output} already exists; remove it or choose another output path.`, { details: { path: options.output } });
  }
  const [exclusionArgs, sourceExcludes] = await Promise.all([exclusions.squashfsArguments(options.directory), squashfsSourceExclusions(options.directory, sources)]);
  const temporary = join(dirname(options.output), `.${basename(options.output)}.partial-${randomBytes(6).toString('hex')}`);
  const args = [
    options.directory,
    temporary,
    '-noappend',
    '-no-recovery',
    // Without it an unreadable file is stored as an empty file and mksquashfs still succeeds.
    '-exit-on-error',
    '-no-progress',
    '-quiet',
    '-one-file-system',
    '-xattrs',
    '-comp',
    options.compression ?? 'gzip',
    ...(options.processors ? ['-processors', String(options.processors)] : []),
    // `-e` must come last: everything after it is an exclusion.
    ...exclusionArgs,
    ...sourceExcludes,
  ];
  const stderr = new StderrTail();
  const mksquashfs = execa('mksquashfs', args, { stdin: 'ignore', buffer: false, ...(options.signal ? { cancelSignal: options.signal } : {}) });
  mksquashfs.stderr?.on('data', (chunk: Buffer) => stderr.append(chunk.toString()));
  mksquashfs.stdout?.resume();
  const pacer = mksquashfs.pid === undefined ? undefined : startIoPacer(mksquashfs.pid, options.bandwidthLimit, options.onProgress && ((bytes) => options.onProgress?.({ bytes })));
  let readBytes = 0;
  try {
    await mksquashfs.finally(async () => {
      readBytes = (await pacer?.stop()) ?? 0;
    });
    await flushToDisk(temporary);
    await rename(temporary, options.output);
  } catch (error) {
    await rm(temporary, { force: true });
    if (options.signal?.aborted) throw new BpError('BP_ABORTED', 'Creating the squashfs image was aborted.', { cause: error });
    throw toolError(error, { code: 'BP_ARCHIVE_FAILED', tool: 'mksquashfs', what: 'Creating the squashfs image', stderr: stderr.toString() });
  }
  return { writtenBytes: (await stat(options.output)).size, readBytes };
}


/** A backup is published only after its data is on disk (mksquashfs does not fsync). */
async function flushToDisk(path: string): Promise<void> {
  const handle = await open(path, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}
