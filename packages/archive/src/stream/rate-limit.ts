import { Transform, type TransformCallback } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';

/** How far the limiter may fall behind before unused time stops counting (no bursts after idling). */
const MAX_CREDIT_MS = 250;
/** Chunks are released in slices of this much time so the rate stays smooth. */
const SLICE_MS = 50;

/**
 * A pass-through stream that releases at most `bytesPerSecond` bytes per second on average
 * (a token bucket on a virtual clock). `0` or `undefined` passes everything through unthrottled.
 */
export function createRateLimitStream(bytesPerSecond: number | undefined): Transform {
  if (!bytesPerSecond || bytesPerSecond <= 0) return new Transform({ transform: (chunk, _encoding, callback) => callback(null, chunk) });
  const sliceBytes = Math.max(1, Math.floor((bytesPerSecond * SLICE_MS) / 1000));
  // The time at which everything released so far was "allowed"; advances by size / rate.
  let clock = performance.now();
  const release = async (stream: Transform, chunk: Buffer): Promise<void> => {
    for (let offset = 0; offset < chunk.length; offset += sliceBytes) {
      const slice = chunk.subarray(offset, offset + sliceBytes);
      const now = performance.now();
      clock = Math.max(clock, now - MAX_CREDIT_MS);
      clock += (slice.length * 1000) / bytesPerSecond;
      const wait = clock - now;
      if (wait > 0) await sleep(wait);
      stream.push(slice);
    }
  };
  return new Transform({
    highWaterMark: sliceBytes,
    transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback) {
      release(this, chunk).then(() => callback(), callback);
    },
  });
}
