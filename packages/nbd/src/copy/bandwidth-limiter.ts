import { setTimeout as sleep } from 'node:timers/promises';

/** Time source of the limiter (replaceable in tests). */
export interface LimiterClock {
  now(): number;
  sleep(ms: number, signal?: AbortSignal): Promise<unknown>;
}

const realClock: LimiterClock = {
  now: () => performance.now(),
  sleep: (ms, signal) => sleep(ms, undefined, { signal }),
};

/**
 * A token bucket on a virtual clock: each `take(n)` books n bytes at `rate` bytes/s; callers
 * wait until their booking is due. Idle time accrues at most `burst` bytes of credit, so the
 * long-run rate stays within one burst of `rate × seconds`.
 */
export class BandwidthLimiter {
  private due: number;
  private readonly burstMs: number;

  constructor(
    private readonly rate: number,
    burst: number,
    private readonly clock: LimiterClock = realClock,
  ) {
    this.burstMs = (burst / rate) * 1000;
    this.due = clock.now() - this.burstMs;
  }

  /** Waits until `bytes` may be transferred. */
  async take(bytes: number, signal?: AbortSignal): Promise<void> {
    const now = this.clock.now();
    this.due = Math.max(this.due, now - this.burstMs) + (bytes / this.rate) * 1000;
    const wait = this.due - now;
    if (wait > 0) await this.clock.sleep(wait, signal);
  }
}
