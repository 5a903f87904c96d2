import { AllocationFlag, DIRTY_FLAG } from '../protocol/index.js';
import type { NbdClient } from '../client/nbd-client.js';
import { blockStatusExtents, type BlockStatusOptions } from './block-status-extents.js';
import type { Region } from './region.js';

/** The NBD metadata context of a QEMU dirty bitmap. */
export function dirtyBitmapContext(bitmapName: string): string {
  return `qemu:dirty-bitmap:${bitmapName}`;
}

/**
 * Yields the dirty regions of bitmap `bitmapName` (extent flag bit 0), merged. Only the bitmap
 * is queried, so this is safe on PVE snapshot-access exports, where anything outside dirty
 * extents is unreadable. The client must have negotiated `qemu:dirty-bitmap:<bitmapName>`.
 */
export async function* dirtyRegions(client: NbdClient, bitmapName: string, options: BlockStatusOptions = {}): AsyncGenerator<Region> {
  let pending: Region | undefined;
  for await (const extent of blockStatusExtents(client, dirtyBitmapContext(bitmapName), options)) {
    if ((extent.flags & DIRTY_FLAG) === 0) continue;
    if (pending && pending.offset + pending.length === extent.offset) {
      pending.length += extent.length;
      continue;
    }
    if (pending) yield pending;
    pending = { offset: extent.offset, length: extent.length };
  }
  if (pending) yield pending;
}

/**
 * Yields the whole export as regions from `base:allocation`: data regions, and ranges that read
 * as zeroes (holes or allocated zeroes) with `zero: true`, adjacent regions of one kind merged.
 * The client must have negotiated `base:allocation`.
 */
export async function* allocatedRegions(client: NbdClient, options: BlockStatusOptions = {}): AsyncGenerator<Region> {
  let pending: Region | undefined;
  for await (const extent of blockStatusExtents(client, 'base:allocation', options)) {
    const zero = (extent.flags & AllocationFlag.ZERO) !== 0;
    if (pending && pending.zero === zero) {
      pending.length += extent.length;
      continue;
    }
    if (pending) yield pending;
    pending = { offset: extent.offset, length: extent.length, zero };
  }
  if (pending) yield pending;
}

/** One region covering `[0, size)`: a full copy without allocation information. */
export async function* wholeRegion(size: number): AsyncGenerator<Region> {
  if (size > 0) yield { offset: 0, length: size };
}

/** Sums the lengths of regions that carry data (not `zero`). */
export async function dataBytes(regions: AsyncIterable<Region> | Iterable<Region>): Promise<number> {
  let total = 0;
  for await (const region of regions) if (!region.zero) total += region.length;
  return total;
}
