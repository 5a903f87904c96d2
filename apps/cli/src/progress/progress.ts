import cliProgress from 'cli-progress';
import type { TextSink } from '../cli-io.js';
import { formatBytes, formatRate } from '../output/format.js';

/** One progress bar. */
export interface ProgressBar {
  /** Sets the amount done so far (and optionally a new total). */
  update(done: number, total?: number): void;
  /** Removes the bar (always call, also on failure). */
  stop(): void;
  /** False for the no-op bar: skip work that only feeds the bar. */
  readonly live: boolean;
}

/** What a bar counts: bytes (shows sizes and throughput) or percent. */
export type ProgressUnit = 'bytes' | 'percent';

/** Creates progress bars; a no-op factory when progress must not be drawn. */
export type ProgressFactory = (label: string, total: number, unit?: ProgressUnit) => ProgressBar;

const silentBar: ProgressBar = { update() {}, stop() {}, live: false };

/** True when progress may be drawn: stderr is a TTY, no `--json`, no `--no-progress`, not CI. */
export function progressWanted(stderr: TextSink, env: Record<string, string | undefined>, options: { json: boolean; progress: boolean }): boolean {
  return stderr.isTTY === true && !options.json && options.progress && !env.CI;
}

const FORMATS: Record<ProgressUnit, string> = {
  bytes: '{label} [{bar}] {percentage}% {doneText}/{totalText} {rate} ETA {eta_formatted}',
  percent: '{label} [{bar}] {percentage}% ETA {eta_formatted}',
};

/**
 * Progress bars on stderr with throughput and ETA (cli-progress). Only used on a TTY, so pipes
 * and logs never see carriage returns.
 */
export function createProgressFactory(stderr: TextSink, enabled: boolean): ProgressFactory {
  if (!enabled) return () => silentBar;
  return (label, total, unit = 'bytes') => {
    const started = Date.now();
    const bar = new cliProgress.SingleBar(
      { stream: stderr as NodeJS.WritableStream, format: FORMATS[unit], barsize: 24, hideCursor: true, clearOnComplete: true, etaBuffer: 50, fps: 5 },
      cliProgress.Presets.shades_classic,
    );
    const payload = (done: number, all: number) => ({ label, doneText: formatBytes(done), totalText: formatBytes(all), rate: formatRate(done, Date.now() - started) });
    let currentTotal = Math.max(total, 1);
    bar.start(currentTotal, 0, payload(0, currentTotal));
    let stopped = false;
    return {
      live: true,
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
