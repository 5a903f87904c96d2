import { describe, expect, test } from 'vitest';
import { BandwidthLimiter, type LimiterClock } from './bandwidth-limiter.js';

/** A simulated clock: sleeping advances time, so the test measures the schedule, not the machine. */
function simulatedClock(): LimiterClock & { advance(ms: number): void } {
  let time = 1000;
  return {
    now: () => time,
    sleep: async (ms) => {
      time += ms;
    },
    advance: (ms) => {
      time += ms;
    },
  };
}

describe('BandwidthLimiter', () => {
  test.each([
    [10 * 1024 * 1024, 1024 * 1024],
    [50 * 1024 * 1024, 4 * 1024 * 1024],
    [1024 * 1024, 64 * 1024],
  ])('keeps %d B/s within ±5 %% over 10 s with %d-byte requests', async (rate, request) => {
    const clock = simulatedClock();
    const limiter = new BandwidthLimiter(rate, request, { clock });
    const start = clock.now();
    let sent = 0;
    while (clock.now() - start < 10_000) {
      await limiter.take(request);
      if (clock.now() - start < 10_000) sent += request;
      clock.advance(1); // the transfer itself
    }
    expect(sent / (rate * 10)).toBeGreaterThan(0.95);
    expect(sent / (rate * 10)).toBeLessThan(1.05);
  });

  test('idle time earns at most one burst of credit', async () => {
    const clock = simulatedClock();
    const limiter = new BandwidthLimiter(1000, 100, { clock });
    clock.advance(60_000);
    const before = clock.now();
    for (let i = 0; i < 11; i++) await limiter.take(100);
    // 1100 bytes at 1000 B/s with 100 bytes of credit: one second of waiting.
    expect(clock.now() - before).toBe(1000);
  });
});
