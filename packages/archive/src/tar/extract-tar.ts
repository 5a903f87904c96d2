import { createReadStream } from 'node:fs';
import { open } from 'node:fs/promises';
import { pipeline } from 'node:stream/promises';
import { BpError, toolError } from '@bp/api';
import { createRateLimitStream } from '@bp/api/rate-limit';
import type { ResultPromise } from 'execa';
import { StderrTail } from '../process/stderr-tail.js';
import { spawnExtractor } from '../process/spawn-extractor.js';
import type { IdMapEntry } from '../process/id-map.js';
import { isClosedByReader } from '../stream/closed-by-reader.js';
import { compressionFromFileName, compressorFor, type TarCompression } from './compression.js';
import { assertSafeScan, scanTarArchive } from './scan-tar.js';
import { EXTRACT_TAR_FLAGS } from './tar-flags.js';

/** Options of {@link extractTarArchive}. */
export interface ExtractTarOptions {
  /** The archive file (untrusted). */
  archive: string;
  /** The container root to extract into; must exist. */
  target: string;
  /** Default: judged from the file name (`.tar`, `.tar.zst`, `.tar.gz`), as pct restore does. */
  compression?: TarCompression;
  /**
   * Restore for an unprivileged container: extract as root of a user namespace mapping the
   * container's ids to these host ids (e.g. +100000). Owners, ACL entries and file capabilities
   * are shifted; device nodes cannot be created. `target` is chowned to the mapped root.
   */
  idMap?: readonly IdMapEntry[] | undefined;
  /** Accept character/block device members (privileged restores only); default false. */
  allowDevices?: boolean;
  /** Bytes per second read from the archive file; 0 = unlimited. */
  bandwidthLimit?: number;
  signal?: AbortSignal;
}

/** What {@link extractTarArchive} did. */
export interface ExtractTarResult {
  members: number;
  /** tar's `--totals` line. */
  totals?: string;
}

/**
 * Extracts an untrusted container archive with pct restore's flags (`tar xpf - --totals
 * <COMMON_TAR_FLAGS> --skip-old-files --anchored --exclude=./dev/*`). Every member header is
 * checked first; nothing is written when one is unsafe.
 *
 * @throws BpError `BP_ARCHIVE_UNSAFE` (absolute or `..` names, hard links out of the root,
 *   members below archived symlinks, devices unless allowed, unknown member types, unreadable
 *   archive); `BP_ARCHIVE_FAILED` with tar's stderr when extraction fails (the target may then
 *   hold part of the tree: extract into a fresh directory and remove it on failure).
 */
export async function extractTarArchive(options: ExtractTarOptions): Promise<ExtractTarResult> {
  const compression = options.compression ?? compressionFromFileName(options.archive);
  const scan = await scanTarArchive(options.archive, {
    compression,
    allowDevices: options.allowDevices ?? false,
    ...(options.signal ? { signal: options.signal } : {}),
  });
  assertSafeScan(options.archive, scan);
  const tarFlag = compressorFor(compression).tarFlag;
  const args = (directory: string): string[] => ['xpf', '-', '--totals', ...EXTRACT_TAR_FLAGS, ...(tarFlag ? [tarFlag] : []), '-C', directory];
  const processOptions = { buffer: false, encoding: 'utf8', ...(options.signal ? { cancelSignal: options.signal } : {}) } as const;
  // Unthrottled, tar reads the archive file itself; with a limit the data flows through the limiter.
  const archive = options.bandwidthLimit ? undefined : await open(options.archive, 'r');
  let tar: ResultPromise;
  try {
    ({ subprocess: tar } = await spawnExtractor('tar', args, options.target, options.idMap, archive?.fd ?? 'pipe', processOptions));
  } finally {
    await archive?.close();
  }
  const stderr = new StderrTail();
  let totals: string | undefined;
  tar.stderr?.on('data', (chunk: string | Buffer) => {
    for (const line of chunk.toString().split('\n')) {
      if (line.startsWith('Total bytes read:')) totals = line;
      else if (line !== '') stderr.append(`${line}\n`);
    }
  });
  const feed = archive ? Promise.resolve() : pipeline(createReadStream(options.archive, { highWaterMark: 1024 * 1024 }), createRateLimitStream(options.bandwidthLimit), tar.stdin!);
  const [tarOutcome, feedOutcome] = await Promise.allSettled([tar, feed]);
  const feedFailed = feedOutcome.status === 'rejected' && !(tarOutcome.status === 'fulfilled' && isClosedByReader(feedOutcome.reason));
  if (tarOutcome.status === 'rejected' || feedFailed) {
    const error = tarOutcome.status === 'rejected' ? tarOutcome.reason : (feedOutcome as PromiseRejectedResult).reason;
    if (options.signal?.aborted) throw new BpError('BP_ABORTED', 'Extracting the tar archive was aborted.', { cause: error });
    throw toolError(error, { code: 'BP_ARCHIVE_FAILED', tool: 'tar', what: `Extracting ${options.archive}`, stderr: stderr.toString() });
  }
  return { members: scan.members, ...(totals ? { totals } : {}) };
}

