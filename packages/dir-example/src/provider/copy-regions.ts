import { setTimeout as sleep } from 'node:timers/promises';
import { BpError, type DiskRegion } from '@bp/api';
import type { CopyTarget } from '@bp/nbd';

/** Where the copy reads: the snapshot access of one device. */
export interface RegionSource {
  /** Dirty regions in ascending order (the whole disk once when there is no bitmap). */
  regions(): AsyncIterable<DiskRegion>;
  read(offset: number, length: number): Promise<Uint8Array>;
  /** Frees the stored range in the fleecing image (discard after read). */
  discard(offset: number, length: number): Promise<void>;
}

/** Options of {@link copyRegions}. */
export interface CopyRegionsOptions {
  /** Bytes per second; 0 or undefined = unlimited. */
  bandwidthLimit?: number;
  signal?: AbortSignal;
  /** Called once when discarding fails; discarding stops afterwards (as the example). */
  onWarning?: (message: string) => void;
}

/** What a copy did. */
export interface CopyStats {
  bytesRead: number;
  bytesWritten: number;
  zeroBytes: number;
}

/** Largest request, as the example and qemu-server use. */
export const CHUNK_SIZE = 4 * 1024 * 1024;
const IN_FLIGHT = 4;
const ZEROES = new Uint8Array(CHUNK_SIZE);

function isZero(data: Uint8Array): boolean {
  return Buffer.from(data.buffer, data.byteOffset, data.byteLength).equals(ZEROES.subarray(0, data.byteLength));
}

async function* chunksOf(regions: AsyncIterable<DiskRegion>): AsyncGenerator<DiskRegion> {
  for await (const region of regions) {
    for (let offset = region.offset; offset < region.offset + region.length; offset += CHUNK_SIZE) {
      yield { offset, length: Math.min(CHUNK_SIZE, region.offset + region.length - offset) };
    }
  }
}

/**
 * Copies the source's regions to the same offsets of `target` in 4 MiB requests, a few in flight.
 * All-zero chunks are not written when the target reads as zeroes already (zero detection), else
 * they become write-zeroes. Each stored chunk is discarded on the source. The bandwidth limit
 * paces reads. Throws BP_ABORTED when `signal` fires.
 */
export async function copyRegions(source: RegionSource, target: CopyTarget, options: CopyRegionsOptions = {}): Promise<CopyStats> {
  const stats: CopyStats = { bytesRead: 0, bytesWritten: 0, zeroBytes: 0 };
  const limit = options.bandwidthLimit && options.bandwidthLimit > 0 ? options.bandwidthLimit : 0;
  const started = performance.now();
  let discarding = true;
  let failure: unknown;
  const inFlight = new Set<Promise<void>>();

  const copyChunk = async ({ offset, length }: DiskRegion): Promise<void> => {
    const data = await source.read(offset, length);
    if (data.byteLength !== length) {
      throw new BpError('BP_BACKUP_FAILED', `source returned ${data.byteLength} of ${length} bytes at offset ${offset}; the export ended early`);
    }
    stats.bytesRead += length;
    if (isZero(data)) {
      stats.zeroBytes += length;
      if (!target.zeroInitialized) await target.writeZeroes(offset, length);
    } else {
      await target.write(offset, data);
      stats.bytesWritten += length;
    }
    if (discarding) {
      await source.discard(offset, length).catch((error: unknown) => {
        if (!discarding) return;
        discarding = false;
        options.onWarning?.(`discard on the source failed, not discarding any more: ${error instanceof Error ? error.message : String(error)}`);
      });
    }
  };

  let issued = 0;
  for await (const chunk of chunksOf(source.regions())) {
    if (failure !== undefined) break;
    if (options.signal?.aborted) {
      failure = new BpError('BP_ABORTED', 'the backup was aborted', { cause: options.signal.reason });
      break;
    }
    if (limit > 0) {
      const due = (issued / limit) * 1000 - (performance.now() - started);
      if (due > 0) await sleep(due);
    }
    issued += chunk.length;
    const task: Promise<void> = copyChunk(chunk).then(
      () => void inFlight.delete(task),
      (error: unknown) => {
        inFlight.delete(task);
        failure ??= error;
      },
    );
    inFlight.add(task);
    if (inFlight.size >= IN_FLIGHT) await Promise.race(inFlight);
  }
  await Promise.all(inFlight);
  if (failure !== undefined) throw failure;
  return stats;
}
