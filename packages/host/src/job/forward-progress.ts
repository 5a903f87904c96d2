import type { BackupProgress, BackupProgressFunction } from '@bp/api';

/** At most one forwarded report per device in this interval. */
const INTERVAL_MS = 200;

/** A provider's progress callback plus `flush`, which forwards the reports held back last. */
export interface ProgressForwarder extends BackupProgressFunction {
  flush(): void;
}

/**
 * Wraps what the job does with a provider's progress reports: malformed reports are dropped (a
 * provider's mistake must not fail its backup), frequent ones thinned out per device (the latest
 * held back is forwarded by `flush`, or by the next report after the interval), and a throwing
 * consumer never reaches the provider.
 */
export function forwardProgress(forward: (progress: BackupProgress) => void, intervalMs = INTERVAL_MS): ProgressForwarder {
  const last = new Map<string, number>();
  const held = new Map<string, BackupProgress>();
  const send = (key: string, progress: BackupProgress): void => {
    last.set(key, performance.now());
    held.delete(key);
    try {
      forward(progress);
    } catch {
      // Progress is informational only.
    }
  };
  const report = (progress: BackupProgress): void => {
    if (!isValid(progress)) return;
    const key = progress.device ?? '';
    const clean: BackupProgress = {
      ...(typeof progress.device === 'string' ? { device: progress.device } : {}),
      bytesDone: progress.bytesDone,
      ...(progress.bytesTotal !== undefined ? { bytesTotal: progress.bytesTotal } : {}),
    };
    const finished = clean.bytesTotal !== undefined && clean.bytesDone >= clean.bytesTotal;
    if (finished || performance.now() - (last.get(key) ?? -Infinity) >= intervalMs) send(key, clean);
    else held.set(key, clean);
  };
  return Object.assign(report, {
    flush: () => {
      for (const [key, progress] of [...held]) send(key, progress);
    },
  });
}

function isValid(progress: unknown): progress is BackupProgress {
  if (typeof progress !== 'object' || progress === null) return false;
  const { device, bytesDone, bytesTotal } = progress as Record<string, unknown>;
  const count = (value: unknown): boolean => typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
  return count(bytesDone) && (bytesTotal === undefined || count(bytesTotal)) && (device === undefined || typeof device === 'string');
}
