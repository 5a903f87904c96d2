import { Transform } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';

/** A pass-through stream that paces data to `bytesPerSecond` (0 = unlimited). */
export function throttleStream(bytesPerSecond: number): Transform {
  const started = performance.now();
  let passed = 0;
  return new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      passed += chunk.length;
      const due = bytesPerSecond > 0 ? (passed / bytesPerSecond) * 1000 - (performance.now() - started) : 0;
      if (due <= 0) callback(null, chunk);
      else void sleep(due).then(() => callback(null, chunk));
    },
  });
}
