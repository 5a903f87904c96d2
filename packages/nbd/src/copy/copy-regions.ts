import { BpError } from '@bp/api/errors';
import { BandwidthLimiter } from '@bp/api/rate-limit';
import { NbdClient } from '../client/nbd-client.js';
import type { Region } from '../extents/region.js';
import { BufferPool } from './buffer-pool.js';
import { nbdSource } from './nbd-source.js';
import { progressReporter, type CopyProgress } from './progress-reporter.js';
import { SourceDiscarder } from './source-discarder.js';
import type { CopySource } from './source.js';
import type { CopyTarget } from './target.js';
import { zeroRuns } from './zeroes.js';

export type { CopyProgress };

/** Default request size: measured best on the reference machine (see bench/results.md). */
export const DEFAULT_REQUEST_SIZE = 2 * 1024 * 1024;
/** Default requests in flight. */
export const DEFAULT_IN_FLIGHT = 8;

/** What a finished copy did. */
export interface CopyStats {
  /** Bytes of all regions processed. */
  bytes: number;
  /** Bytes read from the source. */
  bytesRead: number;
  /** Bytes written as data. */
  bytesWritten: number;
  /** Bytes sent as write-zeroes. */
  bytesZeroed: number;
  /** Zero bytes skipped because the target was zero-initialized. */
  bytesSkipped: number;
  /** Bytes discarded on the source. */
  bytesDiscarded: number;
  /** True when a discard failed and discarding stopped. */
  discardStopped: boolean;
  durationMs: number;
}

/** Options of {@link copyRegions}. */
export interface CopyRegionsOptions {
  /** Where to read: an NBD client or any {@link CopySource}. */
  source: CopySource | NbdClient;
  target: CopyTarget;
  /** Regions to copy, at the same offsets, ascending or not; `zero` regions are not read. */
  regions: AsyncIterable<Region> | Iterable<Region>;
  /** Bytes per read request (default {@link DEFAULT_REQUEST_SIZE}). */
  requestSize?: number;
  /** Requests in flight; also the number of buffers (default {@link DEFAULT_IN_FLIGHT}). */
  inFlight?: number;
  /** Do not write all-zero data as data (default true). */
  detectZeroes?: boolean;
  /** Discard each copied piece on the source once written (PVE's "discard after read"). */
  discardSource?: boolean;
  /** Limit on bytes read per second (token bucket). */
  bandwidthLimit?: number;
  /** Sum of region lengths, for progress. */
  totalBytes?: number;
  /** Flush the target at the end (default true). */
  flush?: boolean;
  signal?: AbortSignal;
  /** Called at most every 200 ms and once at the end. */
  onProgress?: (progress: CopyProgress) => void;
  /** Non-fatal problems (a failed discard). */
  onWarning?: (warning: BpError) => void;
}

function checkPositive(name: string, value: number | undefined, fallback: number): number {
  const result = value ?? fallback;
  if (!Number.isSafeInteger(result) || result <= 0) throw new BpError('BP_INVALID_ARGUMENT', `${name} must be a positive integer, got ${value}.`);
  return result;
}

/**
 * Copies `regions` from `source` to `target` at the same offsets, with a fixed pool of buffers
 * (memory = `inFlight × requestSize`), zero detection, optional discard on the source,
 * bandwidth limit, progress and cancellation; flushes the target before resolving.
 * Neither source nor target is closed.
 *
 * @throws BpError `BP_ABORTED` when `signal` fires, the source's or target's error otherwise;
 *   in-flight requests have settled before it rejects.
 */
/**
 * The copy's limiter: a burst of one request, but never more than a quarter second of the limit —
 * with a low limit a whole 2 MiB request up front would be a second of unlimited copying.
 */
function limiterFor(rate: number, requestSize: number): BandwidthLimiter {
  return new BandwidthLimiter(rate, Math.min(requestSize, rate / 4));
}

export async function copyRegions(options: CopyRegionsOptions): Promise<CopyStats> {
  const requestSize = checkPositive('requestSize', options.requestSize, DEFAULT_REQUEST_SIZE);
  const inFlight = checkPositive('inFlight', options.inFlight, DEFAULT_IN_FLIGHT);
  const source = options.source instanceof NbdClient ? nbdSource(options.source) : options.source;
  const { target, signal } = options;
  const detectZeroes = options.detectZeroes ?? true;
  const limiter = options.bandwidthLimit === undefined ? undefined : limiterFor(checkPositive('bandwidthLimit', options.bandwidthLimit, 0), requestSize);
  const pool = new BufferPool(inFlight, requestSize);
  const started = performance.now();
  const stats: CopyStats = { bytes: 0, bytesRead: 0, bytesWritten: 0, bytesZeroed: 0, bytesSkipped: 0, bytesDiscarded: 0, discardStopped: false, durationMs: 0 };
  const discarder = new SourceDiscarder(source, options.discardSource ?? false, options.onWarning);
  const progress = progressReporter(options.onProgress, options.totalBytes);
  let failure: unknown;
  const running = new Set<Promise<void>>();

  const zeroRange = async (offset: number, length: number): Promise<void> => {
    if (target.zeroInitialized) stats.bytesSkipped += length;
    else {
      await target.writeZeroes(offset, length);
      stats.bytesZeroed += length;
    }
  };

  const copyPiece = async (buffer: Buffer, offset: number, length: number): Promise<void> => {
    const data = buffer.subarray(0, length);
    await source.read(offset, length, data);
    stats.bytesRead += length;
    const runs = detectZeroes ? zeroRuns(data, offset) : [{ start: 0, end: length, zero: false }];
    await Promise.all(
      runs.map(async (run) => {
        if (run.zero) return zeroRange(offset + run.start, run.end - run.start);
        await target.write(offset + run.start, data.subarray(run.start, run.end));
        stats.bytesWritten += run.end - run.start;
      }),
    );
    await discarder.written(offset, length);
  };

  const launch = (task: () => Promise<void>, length: number, buffer?: Buffer): void => {
    const promise = task()
      .then(() => {
        stats.bytes += length;
        progress(stats.bytes, false);
      })
      .catch((error: unknown) => {
        failure ??= error;
      })
      .finally(() => {
        running.delete(promise);
        if (buffer) pool.release(buffer);
      });
    running.add(promise);
  };

  const abortError = (): BpError => new BpError('BP_ABORTED', 'The copy was aborted.');
  try {
    outer: for await (const region of options.regions) {
      checkRegion(region, source.size);
      if (region.zero) {
        // Bounded like reads: wait for a slot so zero requests do not pile up.
        const slot = await pool.acquire(signal);
        if (failure) {
          pool.release(slot);
          break;
        }
        launch(() => zeroRange(region.offset, region.length), region.length, slot);
        continue;
      }
      const end = region.offset + region.length;
      for (let offset = region.offset; offset < end; ) {
        // Pieces end on requestSize boundaries, so target writes stay cluster-aligned.
        const length = Math.min(end, (Math.floor(offset / requestSize) + 1) * requestSize) - offset;
        const buffer = await pool.acquire(signal);
        if (failure || signal?.aborted) {
          pool.release(buffer);
          break outer;
        }
        if (limiter) await limiter.take(length, signal).catch((error: unknown) => (pool.release(buffer), Promise.reject(error)));
        const at = offset;
        launch(() => copyPiece(buffer, at, length), length, buffer);
        offset += length;
      }
    }
  } catch (error) {
    failure ??= signal?.aborted ? abortError() : error;
  }
  while (running.size > 0) await Promise.allSettled([...running]);
  if (!failure && signal?.aborted) failure = abortError();
  if (failure) throw failure;
  await discarder.finish();
  if (options.flush ?? true) await target.flush();
  stats.bytesDiscarded = discarder.bytes;
  stats.discardStopped = discarder.stopped;
  stats.durationMs = performance.now() - started;
  progress(stats.bytes, true);
  return stats;
}

function checkRegion(region: Region, size: number): void {
  const { offset, length } = region;
  if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || offset < 0 || length <= 0 || offset + length > size) {
    throw new BpError('BP_INVALID_ARGUMENT', `Region [${offset}, +${length}) is outside the source of ${size} bytes.`);
  }
}
