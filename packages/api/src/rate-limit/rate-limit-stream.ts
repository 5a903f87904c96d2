import { Transform, type TransformCallback } from 'node:stream';
import { BandwidthLimiter } from './bandwidth-limiter.js';

/** How far the limiter may fall behind before unused time stops counting (no bursts after idling). */
const MAX_CREDIT_MS = 250;
/** Chunks are released in slices of this much time so the rate stays smooth. */
const SLICE_MS = 50;

/** Options of {@link createRateLimitStream}. */
export interface RateLimitStreamOptions {
  /** Aborts a wait: the stream then fails with the signal's reason. */
  signal?: AbortSignal;
}

/**
 * A pass-through stream that releases at most `bytesPerSecond` bytes per second on average
 * ({@link BandwidthLimiter}, starting without credit, chunks released in 50 ms slices).
 * `0` or `undefined` passes everything through unthrottled.
 */
export function createRateLimitStream(bytesPerSecond: number | undefined, options: RateLimitStreamOptions = {}): Transform {
  if (!bytesPerSecond || bytesPerSecond <= 0) return new Transform({ transform: (chunk, _encoding, callback) => callback(null, chunk) });
  const sliceBytes = Math.max(1, Math.floor((bytesPerSecond * SLICE_MS) / 1000));
  const limiter = new BandwidthLimiter(bytesPerSecond, (bytesPerSecond * MAX_CREDIT_MS) / 1000, { initialCredit: 0 });
  const release = async (stream: Transform, chunk: Buffer): Promise<void> => {
    for (let offset = 0; offset < chunk.length; offset += sliceBytes) {
      const slice = chunk.subarray(offset, offset + sliceBytes);
      await limiter.take(slice.length, options.signal);
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
