import { readFile } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';

/** A process as a session record names it: the pid plus its start time, so a reused pid is never mistaken for it. */
export interface ProcessIdentity {
  pid: number;
  /** Field 22 of `/proc/<pid>/stat` (clock ticks since boot). */
  startTime: string;
}

/** What `/proc/<pid>/stat` says of a process that still runs. */
export interface LiveProcessStat {
  /** The command name (field 2). */
  comm: string;
  /** The parent's pid (field 4). */
  ppid: number;
  /** Field 22 (clock ticks since boot). */
  startTime: string;
}

/** `/proc/<pid>/stat` of a running process; undefined when it is gone or a zombie (ended, not yet reaped). */
export async function liveProcessStat(pid: number | string): Promise<LiveProcessStat | undefined> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => undefined);
  if (stat === undefined) return undefined;
  // The command name (field 2) is in parentheses and may contain spaces and parentheses: count after the last ')'.
  const close = stat.lastIndexOf(')');
  const fields = stat.slice(close + 2).split(' ');
  if (fields[0] === 'Z') return undefined;
  return { comm: stat.slice(stat.indexOf('(') + 1, close), ppid: Number(fields[1]), startTime: fields[19] ?? '' };
}

async function startTimeOf(pid: number): Promise<string | undefined> {
  return (await liveProcessStat(pid))?.startTime;
}

/** The identity of a running process. */
export async function identify(pid: number): Promise<ProcessIdentity> {
  return { pid, startTime: (await startTimeOf(pid)) ?? '' };
}

/** True while the very process of `identity` runs. */
export async function isRunning(identity: ProcessIdentity): Promise<boolean> {
  const startTime = await startTimeOf(identity.pid);
  return startTime !== undefined && startTime === identity.startTime;
}

/** Stops a process of a session (SIGTERM, SIGKILL after `graceMs`), only if it is still the same process. */
export async function stopProcess(identity: ProcessIdentity, graceMs = 5000): Promise<void> {
  if (!(await isRunning(identity))) return;
  try {
    process.kill(identity.pid, 'SIGTERM');
  } catch {
    return;
  }
  for (let waited = 0; waited < graceMs; waited += 50) {
    if (!(await isRunning(identity))) return;
    await sleep(50);
  }
  try {
    process.kill(identity.pid, 'SIGKILL');
  } catch {
    // Gone meanwhile.
  }
  for (let waited = 0; waited < 2000 && (await isRunning(identity)); waited += 50) await sleep(50);
}
