/** Granule of zero detection: 64 KiB, the default qcow2 cluster size. */
export const ZERO_GRANULE = 64 * 1024;
const ZERO_BLOCK = Buffer.alloc(ZERO_GRANULE);

/** True when `data` holds only zero bytes (memcmp against a zero block, granule by granule). */
export function isAllZero(data: Uint8Array): boolean {
  for (let at = 0; at < data.length; at += ZERO_GRANULE) {
    const part = data.subarray(at, Math.min(data.length, at + ZERO_GRANULE));
    if (Buffer.compare(part, ZERO_BLOCK.subarray(0, part.length)) !== 0) return false;
  }
  return true;
}

/** A run of equal kind inside a buffer: `[start, end)` relative to the buffer. */
export interface ZeroRun {
  start: number;
  end: number;
  zero: boolean;
}

/**
 * Splits `data` into alternating data and zero runs at granule boundaries relative to
 * `offset`, so zero clusters of the target stay unallocated.
 */
export function zeroRuns(data: Uint8Array, offset: number): ZeroRun[] {
  const runs: ZeroRun[] = [];
  let start = 0;
  while (start < data.length) {
    const end = Math.min(data.length, start + ZERO_GRANULE - ((offset + start) % ZERO_GRANULE));
    const part = data.subarray(start, end);
    const zero = Buffer.compare(part, ZERO_BLOCK.subarray(0, part.length)) === 0;
    const last = runs[runs.length - 1];
    if (last && last.zero === zero) last.end = end;
    else runs.push({ start, end, zero });
    start = end;
  }
  return runs;
}
