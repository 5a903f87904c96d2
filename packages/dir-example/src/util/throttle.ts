import { Transform } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';

/** Minimum time between two `onPassed` calls (the last one always comes, from `flush`). */
const REPORT_INTERVAL_MS = 250;

/**
 * A pass-through stream that paces data to `bytesPerSecond` (0 = unlimited) and tells `onPassed`
 * how many bytes went through (at most every 250 ms, and once at the end).
 */
export function throttleStream(bytesPerSecond: number, onPassed?: (bytes: number) => void): Transform {
  const started = performance.now();
  let passed = 0;
  let reported = -Infinity;
  return new Transform({
    flush(callback) {
      onPassed?.(passed);
      callback();
    },
    transform(chunk: Buffer, _encoding, callback) {
      passed += chunk.length;
      if (onPassed && performance.now() - reported >= REPORT_INTERVAL_MS) {
        reported = performance.now();
        onPassed(passed);
      }
      const due = bytesPerSecond > 0 ? (passed / bytesPerSecond) * 1000 - (performance.now() - started) : 0;
      if (due <= 0) callback(null, chunk);
      else void sleep(due).then(() => callback(null, chunk));
    },
  });
}
