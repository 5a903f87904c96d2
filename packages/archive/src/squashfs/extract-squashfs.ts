import { BpError, toolError } from '@bp/api';
import { StderrTail } from '../process/stderr-tail.js';
import { spawnExtractor } from '../process/spawn-extractor.js';
import type { IdMapEntry } from '../process/id-map.js';

/** Options of {@link extractSquashfsArchive}. */
export interface ExtractSquashfsOptions {
  /** The image file. */
  image: string;
  /** Existing directory to extract into. */
  target: string;
  /** Extract as root of a user namespace with this ID mapping (unprivileged container). */
  idMap?: readonly IdMapEntry[] | undefined;
  signal?: AbortSignal;
}

/**
 * Extracts a squashfs image with unsquashfs (the alternative to mounting it): owners, modes,
 * xattrs, hard links, devices and sparse files as stored; with `idMap` inside a user
 * namespace like {@link extractTarArchive} (device nodes then fail).
 *
 * @throws BpError `BP_ARCHIVE_FAILED` with unsquashfs' stderr.
 */
export async function extractSquashfsArchive(options: ExtractSquashfsOptions): Promise<void> {
  const args = (directory: string): string[] => ['-f', '-no-progress', '-quiet', '-xattrs', '-d', directory, options.image];
  const processOptions = { buffer: false, ...(options.signal ? { cancelSignal: options.signal } : {}) } as const;
  const { subprocess: unsquashfs } = await spawnExtractor('unsquashfs', args, options.target, options.idMap, 'ignore', processOptions);
  const stderr = new StderrTail();
  unsquashfs.stderr?.on('data', (chunk: Buffer) => stderr.append(chunk.toString()));
  unsquashfs.stdout?.resume();
  try {
    await unsquashfs;
  } catch (error) {
    if (options.signal?.aborted) throw new BpError('BP_ABORTED', 'Extracting the squashfs image was aborted.', { cause: error });
    throw toolError(error, { code: 'BP_ARCHIVE_FAILED', tool: 'unsquashfs', what: `Extracting ${options.image}`, stderr: stderr.toString() });
  }
}
