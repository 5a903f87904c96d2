// Leak checks: child processes of this test process and open sockets.
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';

/** PIDs whose parent is this process. */
export function childProcesses(): number[] {
  const children: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(fields[1]) === process.pid) children.push(Number(entry));
    } catch {
      // the process exited meanwhile
    }
  }
  return children;
}

/** Number of socket file descriptors of this process. */
export function openSockets(): number {
  let count = 0;
  for (const fd of readdirSync('/proc/self/fd')) {
    try {
      if (readlinkSync(`/proc/self/fd/${fd}`).startsWith('socket:')) count += 1;
    } catch {
      // closed meanwhile
    }
  }
  return count;
}

/** Snapshot before a test; `assertNoLeaks` after it. */
export function leakBaseline(): { sockets: number } {
  return { sockets: openSockets() };
}

export async function expectNoLeaks(baseline: { sockets: number }): Promise<void> {
  // Exited children are reaped asynchronously; give the event loop a few turns.
  for (let attempt = 0; attempt < 50; attempt += 1) {
    if (childProcesses().length === 0 && openSockets() <= baseline.sockets) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  const children = childProcesses();
  const sockets = openSockets();
  if (children.length > 0) throw new Error(`child processes left behind: ${children.join(', ')}`);
  if (sockets > baseline.sockets) throw new Error(`sockets left open: ${sockets} > ${baseline.sockets}`);
}

/**
 * Registers the per-test leak check: a socket baseline before each test, then `cleanup()` and
 * the check after it.
 */
export function checkLeaksAfterEach(hooks: { beforeEach: (fn: () => void) => void; afterEach: (fn: () => Promise<void>) => void }, cleanup: () => void): void {
  let baseline = { sockets: 0 };
  hooks.beforeEach(() => {
    baseline = leakBaseline();
  });
  hooks.afterEach(async () => {
    cleanup();
    await expectNoLeaks(baseline);
  });
}
