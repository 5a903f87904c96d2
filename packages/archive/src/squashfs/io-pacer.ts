import { readFile } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';

const POLL_MS = 20;

/** Bytes a process has read through read(2)-like calls so far (`rchar` of /proc/<pid>/io). */
export async function readBytesOf(pid: number): Promise<number | undefined> {
  const text = await readFile(`/proc/${pid}/io`, 'utf8').catch(() => undefined);
  const match = text?.match(/^rchar:\s*(\d+)/m);
  return match ? Number(match[1]) : undefined;
}

/** A running pacer; `stop()` resumes the process if it is paused and ends the loop. */
export interface IoPacer {
  stop(): Promise<number>;
}

/**
 * Limits how fast a process reads, for tools that read their input themselves (mksquashfs):
 * every 20 ms the process' read counter is compared with `bytesPerSecond` × elapsed time and the
 * process is paused (SIGSTOP) until the budget catches up, then resumed (SIGCONT). Without a
 * limit it only samples the counter for `onBytes`. The average rate converges on the limit;
 * within one poll interval the process runs at full speed.
 */
export function startIoPacer(pid: number, bytesPerSecond: number | undefined, onBytes?: (bytes: number) => void): IoPacer {
  const limit = bytesPerSecond && bytesPerSecond > 0 ? bytesPerSecond : undefined;
  const start = performance.now();
  let running = true;
  let paused = false;
  let lastBytes = 0;
  const signal = (name: NodeJS.Signals): void => {
    try {
      process.kill(pid, name);
      paused = name === 'SIGSTOP';
    } catch {
      // The process is gone; nothing to pace.
    }
  };
  const loop = (async (): Promise<void> => {
    while (running) {
      const bytes = await readBytesOf(pid);
      if (bytes === undefined) break;
      lastBytes = bytes;
      onBytes?.(bytes);
      if (limit) {
        const ahead = bytes - (limit * (performance.now() - start)) / 1000;
        if (ahead > 0) {
          signal('SIGSTOP');
          await sleep(Math.min((ahead / limit) * 1000, 1000));
          signal('SIGCONT');
          continue;
        }
      }
      await sleep(POLL_MS);
    }
  })();
  return {
    async stop(): Promise<number> {
      running = false;
      await loop;
      if (paused) signal('SIGCONT');
      return lastBytes;
    },
  };
}
