import { readdir, readFile } from 'node:fs/promises';
import { liveProcessStat, type LiveProcessStat } from '@bp/nbd/qemu';
import { execa } from 'execa';

/** One pass over /proc: every running (not zombie) process by pid. */
async function liveProcesses(): Promise<Map<number, LiveProcessStat>> {
  const live = new Map<number, LiveProcessStat>();
  for (const name of await readdir('/proc').catch(() => [])) {
    if (!/^\d+$/.test(name)) continue;
    const stat = await liveProcessStat(name);
    if (stat) live.set(Number(name), stat);
  }
  return live;
}

function descendantsIn(live: ReadonlyMap<number, LiveProcessStat>): Map<number, string> {
  const found = new Map<number, string>();
  for (const [pid, { comm }] of live) {
    for (let ancestor = live.get(pid)?.ppid; ancestor !== undefined && ancestor > 1; ancestor = live.get(ancestor)?.ppid) {
      if (ancestor === process.pid) {
        found.set(pid, comm);
        break;
      }
    }
  }
  return found;
}

/**
 * Processes whose command line names a path at or below `dir`. A helper that daemonized
 * (qemu-storage-daemon --daemonize, setsid) is reparented to init and escapes
 * {@link descendantProcesses}; one started for a scenario still names the scenario's directory.
 */
async function namingIn(live: ReadonlyMap<number, LiveProcessStat>, dir: string): Promise<Map<number, string>> {
  const found = new Map<number, string>();
  for (const [pid, { comm }] of live) {
    if (pid === process.pid) continue;
    const args = (await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '')).split('\0');
    if (args.some((arg) => arg === dir || arg.includes(`${dir}/`))) found.set(pid, comm);
  }
  return found;
}

/** Live processes below this one: pid -> command name. */
export async function descendantProcesses(): Promise<Map<number, string>> {
  return descendantsIn(await liveProcesses());
}

/** Processes started since `before`: descendants of this one and any process naming `dir`. */
async function newProcesses(dir: string, before: ReadonlyMap<number, string>): Promise<Map<number, string>> {
  const live = await liveProcesses();
  const all = new Map([...descendantsIn(live), ...(await namingIn(live, dir))]);
  for (const pid of before.keys()) all.delete(pid);
  return all;
}

/** Mount points at or below `dir` (from /proc/self/mountinfo). */
export async function mountsUnder(dir: string): Promise<string[]> {
  const info = await readFile('/proc/self/mountinfo', 'utf8').catch(() => '');
  return info
    .split('\n')
    .map((line) => line.split(' ')[4] ?? '')
    .map((point) => point.replace(/\\([0-7]{3})/g, (_, octal: string) => String.fromCharCode(parseInt(octal, 8))))
    .filter((point) => point === dir || point.startsWith(`${dir}/`));
}

/** What a scenario left behind. */
export interface Leftovers {
  files: string[];
  mounts: string[];
  processes: string[];
}

/** True when nothing was left behind. */
export function isClean(leftovers: Leftovers): boolean {
  return leftovers.files.length + leftovers.mounts.length + leftovers.processes.length === 0;
}

/**
 * Looks for leftovers of a scenario: entries of its private TMPDIR, mounts below its scratch
 * directory, processes started since `before`. Processes and mounts get `graceMs` to go away
 * (a FUSE server exits just after its unmount). Entries named in `ignore` are the kit's own.
 */
export async function findLeftovers(tmp: string, scratch: string, before: ReadonlyMap<number, string>, ignore: ReadonlySet<string> = new Set(), graceMs = 3000): Promise<Leftovers> {
  const deadline = Date.now() + graceMs;
  for (;;) {
    const processes = [...(await newProcesses(scratch, before))].map(([pid, comm]) => `${comm} (pid ${pid})`);
    const mounts = await mountsUnder(scratch);
    if ((processes.length === 0 && mounts.length === 0) || Date.now() > deadline) {
      const files = (await readdir(tmp).catch(() => [])).filter((name) => !ignore.has(name)).sort();
      return { files, mounts, processes };
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/**
 * Removes leftovers the kit found, so one failing scenario does not spoil the machine: processes
 * first (a FUSE server whose mount went away underneath it may spin forever), then mounts.
 */
export async function removeLeftovers(scratch: string, before: ReadonlyMap<number, string>): Promise<void> {
  for (const [pid] of await newProcesses(scratch, before)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  for (const point of (await mountsUnder(scratch)).reverse()) {
    const fuse = await execa('fusermount3', ['-u', '-z', point], { reject: false });
    if (fuse.exitCode !== 0) await execa('umount', ['-l', point], { reject: false });
  }
}
