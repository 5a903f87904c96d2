import { rmSync } from 'node:fs';
import { onExit } from 'signal-exit';

/** A child process and the private directory it owns, as the last-resort cleanup sees them. */
interface RegisteredChild {
  readonly pid: number;
  readonly dir: string;
}

const children = new Set<RegisteredChild>();
let exitHookInstalled = false;

/**
 * Kills every still-registered child and removes its directory. Runs synchronously when this
 * process exits or dies of SIGINT/SIGTERM/SIGHUP (through signal-exit, which keeps the signal's
 * default behaviour), so a caller that forgets to stop a server, or is killed, leaves no QEMU
 * process and no directory behind.
 */
function killAllSync(): void {
  for (const child of children) {
    try {
      process.kill(child.pid, 'SIGKILL');
    } catch {
      // Already gone.
    }
    rmSync(child.dir, { recursive: true, force: true });
  }
  children.clear();
}

/** Tracks a child until {@link unregisterChild} is called; returns the handle to pass there. */
export function registerChild(pid: number, dir: string): RegisteredChild {
  if (!exitHookInstalled) {
    onExit(() => {
      killAllSync();
    });
    exitHookInstalled = true;
  }
  const entry = { pid, dir };
  children.add(entry);
  return entry;
}

/** Forgets a child that has been stopped and cleaned up. */
export function unregisterChild(entry: RegisteredChild): void {
  children.delete(entry);
}
