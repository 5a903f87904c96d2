import { setTimeout as sleep } from 'node:timers/promises';

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
  ) {
    this.burstMs = (burst / rate) * 1000;
    this.due = performance.now() - this.burstMs;
  }

  /** Waits until `bytes` may be transferred. */
  async take(bytes: number, signal?: AbortSignal): Promise<void> {
    const now = performance.now();
    this.due = Math.max(this.due, now - this.burstMs) + (bytes / this.rate) * 1000;
    const wait = this.due - now;
    if (wait > 0) await sleep(wait, undefined, { signal });
  }
}
