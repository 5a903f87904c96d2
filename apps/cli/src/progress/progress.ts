import cliProgress from 'cli-progress';
import type { TextSink } from '../cli-io.js';
import { formatBytes, formatRate } from '../output/format.js';

/** One progress bar. */
export interface ProgressBar {
  /** Sets the amount done so far. */
  update(done: number): void;
  /** Replaces the total (e.g. once an incremental's dirty size is known). */
  setTotal(total: number): void;
  /** Removes the bar (always call, also on failure). */
  stop(): void;
  /** False for the no-op bar: skip work that only feeds the bar. */
  readonly live: boolean;
}

/** What a bar counts: bytes (shows sizes and throughput) or percent. */
export type ProgressUnit = 'bytes' | 'percent';

/** Creates progress bars; a no-op factory when progress must not be drawn. */
export type ProgressFactory = (label: string, total: number, unit?: ProgressUnit) => ProgressBar;

const silentBar: ProgressBar = { update() {}, setTotal() {}, stop() {}, live: false };

/** True when progress may be drawn: stderr is a TTY, no `--json`, no `--no-progress`, not CI. */
export function progressWanted(stderr: TextSink, env: Record<string, string | undefined>, options: { json: boolean; progress: boolean }): boolean {
  return stderr.isTTY === true && !options.json && options.progress && !env.CI;
}

const FORMATS: Record<ProgressUnit, string> = {
  bytes: '{label} [{bar}] {percentage}% {doneText}/{totalText} {rate} ETA {etaText}',
  percent: '{label} [{bar}] {percentage}% ETA {etaText}',
};

/** Remaining time at the average rate so far, `-` until there is a rate. */
function etaText(done: number, total: number, elapsedMs: number): string {
  if (done <= 0 || elapsedMs <= 0 || done >= total) return done >= total && done > 0 ? '0s' : '-';
  const seconds = Math.round(((total - done) * elapsedMs) / done / 1000);
  return seconds >= 60 ? `${Math.floor(seconds / 60)}m${String(seconds % 60).padStart(2, '0')}s` : `${seconds}s`;
}

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
    const payload = (done: number, all: number) => ({
      label,
      doneText: formatBytes(done),
      totalText: formatBytes(all),
      rate: formatRate(done, Date.now() - started),
      etaText: etaText(done, all, Date.now() - started),
    });
    let currentTotal = Math.max(total, 1);
    bar.start(currentTotal, 0, payload(0, currentTotal));
    let stopped = false;
    let lastDone = 0;
    return {
      live: true,
      update(done) {
        if (stopped) return;
        lastDone = done;
        // Estimates can overshoot the total: grow it rather than show more than 100%.
        if (done > currentTotal) {
          currentTotal = done;
          bar.setTotal(done);
        }
        bar.update(done, payload(done, currentTotal));
      },
      setTotal(total) {
        if (stopped || total <= 0 || total === currentTotal) return;
        currentTotal = Math.max(total, lastDone);
        bar.setTotal(currentTotal);
        bar.update(lastDone, payload(lastDone, currentTotal));
      },
      stop() {
        if (stopped) return;
        stopped = true;
        bar.stop();
      },
    };
  };
}
