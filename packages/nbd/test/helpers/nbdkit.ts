import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { execa, type ResultPromise } from 'execa';

/** A running nbdkit on a Unix socket. */
export interface NbdkitServer {
  socketPath: string;
  uri: string;
  stop(): Promise<void>;
}

/** Starts nbdkit in the foreground with `args` (plugin, filters, parameters) on `dir/nbdkit.sock`. */
export async function startNbdkit(dir: string, args: string[]): Promise<NbdkitServer> {
  const socketPath = join(dir, 'nbdkit.sock');
  const child: ResultPromise = execa('nbdkit', ['--foreground', '--exit-with-parent', '--unix', socketPath, ...args], { reject: false });
  for (let i = 0; !existsSync(socketPath); i++) {
    if (child.exitCode !== null || i > 600) {
      child.kill('SIGKILL');
      throw new Error(`nbdkit did not start: ${(await child).stderr}`);
    }
    await sleep(50);
  }
  return {
    socketPath,
    uri: `nbd+unix:///?socket=${socketPath}`,
    async stop() {
      child.kill('SIGTERM');
      await child;
    },
  };
}
