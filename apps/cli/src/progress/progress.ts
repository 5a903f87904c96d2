import cliProgress from 'cli-progress';
import type { TextSink } from '../cli-io.js';
import { formatBytes, formatRate } from '../output/format.js';

/** One progress bar for a byte-counting operation. */
export interface ProgressBar {
  /** Sets the bytes done so far (monotonic). */
  update(done: number, total?: number): void;
  /** Removes the bar (always call, also on failure). */
  stop(): void;
}

/** Creates progress bars; a no-op factory when progress must not be drawn. */
export type ProgressFactory = (label: string, total: number) => ProgressBar;

const silentBar: ProgressBar = { update() {}, stop() {} };

/** True when progress may be drawn: stderr is a TTY, no `--json`, no `--no-progress`, not CI. */
export function progressWanted(stderr: TextSink, env: Record<string, string | undefined>, options: { json: boolean; progress: boolean }): boolean {
  return stderr.isTTY === true && !options.json && options.progress && !env.CI;
}

/**
 * A byte progress bar on stderr with throughput and ETA (cli-progress). Only used on a TTY, so
 * pipes and logs never see carriage returns.
 */
export function createProgressFactory(stderr: TextSink, enabled: boolean): ProgressFactory {
  if (!enabled) return () => silentBar;
  return (label, total) => {
    const started = Date.now();
    const bar = new cliProgress.SingleBar(
      {
        stream: stderr as NodeJS.WritableStream,
        format: `${label} [{bar}] {percentage}% {doneText}/{totalText} {rate} ETA {eta_formatted}`,
        barsize: 24,
        hideCursor: true,
        clearOnComplete: true,
        etaBuffer: 50,
        fps: 5,
      },
      cliProgress.Presets.shades_classic,
    );
    const payload = (done: number, all: number) => ({
      doneText: formatBytes(done),
      totalText: formatBytes(all),
      rate: formatRate(done, Date.now() - started),
    });
    let currentTotal = Math.max(total, 1);
    bar.start(currentTotal, 0, payload(0, currentTotal));
    let stopped = false;
    return {
      update(done, newTotal) {
        if (stopped) return;
        if (newTotal !== undefined && newTotal > 0 && newTotal !== currentTotal) {
          currentTotal = newTotal;
          bar.setTotal(newTotal);
        }
        bar.update(Math.min(done, currentTotal), payload(done, currentTotal));
      },
      stop() {
        if (stopped) return;
        stopped = true;
        bar.stop();
      },
    };
  };
}
