import type { CopyTarget } from '@bp/nbd';

/** What a {@link differencesOnly} target saw. */
export interface DifferenceStats {
  /** Bytes compared with the previous restore point. */
  compared: number;
  /** Bytes that differed and were written. */
  differing: number;
}

/** Reads `[offset, offset + length)` of the previous restore point. */
export type ReadPrevious = (offset: number, length: number) => Promise<Uint8Array>;

/** Zero ranges are compared in pieces of this size (bounded memory). */
const ZERO_PIECE = 4 * 1024 * 1024;

function isZero(data: Uint8Array): boolean {
  for (let index = 0; index < data.length; index += 1) if (data[index] !== 0) return false;
  return true;
}

/**
 * Wraps an overlay target so that only data differing from the previous restore point is
 * written, compared in `blockSize` pieces aligned to the disk (the overlay's cluster size, so no
 * write covers part of a cluster needlessly). A full read through it stores exactly what the
 * restore point lacks: the new generation restores the disk as read, whatever a dirty bitmap
 * missed, and `stats.differing` tells how much that was.
 */
export function differencesOnly(target: CopyTarget, readPrevious: ReadPrevious, blockSize: number, stats: DifferenceStats): CopyTarget {
  return {
    zeroInitialized: false,
    async write(offset, data) {
      let position = 0;
      while (position < data.length) {
        const absolute = offset + position;
        const length = Math.min(blockSize - (absolute % blockSize), data.length - position);
        const piece = data.subarray(position, position + length);
        const previous = await readPrevious(absolute, length);
        stats.compared += length;
        if (!Buffer.from(previous.buffer, previous.byteOffset, previous.byteLength).equals(piece)) {
          stats.differing += length;
          await target.write(absolute, piece);
        }
        position += length;
      }
    },
    async writeZeroes(offset, length) {
      for (let position = 0; position < length; ) {
        const piece = Math.min(ZERO_PIECE - ((offset + position) % ZERO_PIECE), length - position);
        stats.compared += piece;
        if (!isZero(await readPrevious(offset + position, piece))) {
          stats.differing += piece;
          await target.writeZeroes(offset + position, piece);
        }
        position += piece;
      }
    },
    flush: () => target.flush(),
    close: () => target.close(),
  };
}
