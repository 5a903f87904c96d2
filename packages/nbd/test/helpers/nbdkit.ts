import { access } from 'node:fs/promises';
import { join } from 'node:path';
import { startManagedProcess } from '../../src/qemu/managed-process.js';

/** A running nbdkit on a Unix socket. */
export interface NbdkitServer {
  socketPath: string;
  uri: string;
  stop(): Promise<void>;
}

const socketIn = (dir: string): string => join(dir, 'nbdkit.sock');

/**
 * Starts nbdkit in the foreground with `args` (plugin, filters, parameters) as a managed child
 * (the package's one child-process machinery): its socket lives in a private directory that
 * `stop()` removes; the server is stopped there, or when the test process exits.
 */
export async function startNbdkit(args: string[]): Promise<NbdkitServer> {
  const managed = await startManagedProcess({
    command: 'nbdkit',
    dirPrefix: 'bp-nbdkit-',
    args: (dir) => ['--foreground', '--exit-with-parent', '--unix', socketIn(dir), ...args],
    isReady: (dir) => access(socketIn(dir)).then(() => true, () => false),
    readyTimeoutMs: 30_000,
  });
  return { socketPath: socketIn(managed.dir), uri: `nbd+unix:///?socket=${socketIn(managed.dir)}`, stop: () => managed.stop() };
}
