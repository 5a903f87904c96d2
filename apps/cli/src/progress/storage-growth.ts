import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { ProgressBar } from './progress.js';

/** Bytes allocated by files under `dir` that changed at or after `sinceMs`. */
async function newBytes(dir: string, sinceMs: number): Promise<number> {
  let total = 0;
  let entries;
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch {
    return 0; // removed while we looked (a partial directory being published)
  }
  for (const entry of entries) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) total += await newBytes(path, sinceMs);
    else if (entry.isFile()) {
      const info = await stat(path).catch(() => undefined);
      if (info && info.mtimeMs >= sinceMs) total += info.blocks * 512;
    }
  }
  return total;
}

/**
 * Feeds a bar with the bytes written into the storage directory since the start (files changed
 * since then, by allocated size), polled once a second while `wanted()`: the fallback for a
 * provider that reports no progress of its own, needing nothing from it. Returns the stop
 * function; does nothing for a silent bar or a storage without a `path`.
 */
export function trackStorageGrowth(storagePath: string | undefined, bar: ProgressBar, intervalMs = 1000, wanted: () => boolean = () => true): () => void {
  if (!bar.live || storagePath === undefined) return () => {};
  const since = Date.now() - 1000;
  let stopped = false;
  let running = false;
  const poll = async (): Promise<void> => {
    if (running) return;
    running = true;
    try {
      if (!wanted()) return;
      const bytes = await newBytes(storagePath, since);
      if (!stopped && wanted()) bar.update(bytes);
    } finally {
      running = false;
    }
  };
  const timer = setInterval(() => void poll(), intervalMs);
  timer.unref();
  return () => {
    stopped = true;
    clearInterval(timer);
  };
}
