import { Transform } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';

/**
 * A pass-through that holds the average rate at `bytesPerSecond` (PVE puts `cstream -t` in front
 * of the extraction for the same purpose).
 */
export function throttle(bytesPerSecond: number, signal?: AbortSignal): Transform {
  const started = Date.now();
  let sent = 0;
  return new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      sent += chunk.length;
      const due = (sent / bytesPerSecond) * 1000 - (Date.now() - started);
      if (due <= 0) {
        callback(null, chunk);
        return;
      }
      sleep(due, undefined, signal ? { signal } : {}).then(
        () => callback(null, chunk),
        (error: unknown) => callback(error as Error),
      );
    },
  });
}
