import type { BackupStorage } from '@bp/api';
import type { ProgressBar } from './progress.js';

/**
 * Feeds a bar with how much the storage grew since the start (`status().used`), polled twice a
 * second: a provider-neutral measure of bytes written while a backup runs. Returns the stop
 * function. Does nothing for a silent bar.
 */
export function trackStorageGrowth(storage: BackupStorage, bar: ProgressBar, intervalMs = 500): () => void {
  if (!bar.live) return () => {};
  let baseline: number | undefined;
  let stopped = false;
  const poll = async (): Promise<void> => {
    try {
      const { used } = await storage.status();
      if (stopped) return;
      baseline ??= used;
      bar.update(Math.max(0, used - baseline));
    } catch {
      // Progress is cosmetic: a failing status() must not disturb the backup.
    }
  };
  void poll();
  const timer = setInterval(() => void poll(), intervalMs);
  timer.unref();
  return () => {
    stopped = true;
    clearInterval(timer);
  };
}
