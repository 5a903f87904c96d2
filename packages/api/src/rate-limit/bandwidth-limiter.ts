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

/** Options of {@link BandwidthLimiter}. */
export interface BandwidthLimiterOptions {
  /** Time source; default the real clock. */
  clock?: LimiterClock;
  /** Bytes that may pass at once right after creation; default one `burst`. */
  initialCredit?: number;
}

/**
 * bp's one rate limiter: a token bucket on a virtual clock. Each `take(n)` books n bytes at
 * `rate` bytes/s; callers wait until their booking is due. Idle time accrues at most `burst`
 * bytes of credit, so the long-run rate stays within one burst of `rate × seconds` and an idle
 * pause is never followed by an unbounded burst.
 */
export class BandwidthLimiter {
  private due: number;
  private readonly burstMs: number;
  private readonly clock: LimiterClock;

  constructor(
    private readonly rate: number,
    burst: number,
    options: BandwidthLimiterOptions = {},
  ) {
    this.clock = options.clock ?? realClock;
    this.burstMs = (burst / rate) * 1000;
    this.due = this.clock.now() - ((options.initialCredit ?? burst) / rate) * 1000;
  }

  /** Waits until `bytes` may be transferred; rejects with the signal's reason when it fires. */
  async take(bytes: number, signal?: AbortSignal): Promise<void> {
    const now = this.clock.now();
    this.due = Math.max(this.due, now - this.burstMs) + (bytes / this.rate) * 1000;
    const wait = this.due - now;
    if (wait > 0) await this.clock.sleep(wait, signal);
  }
}
