import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * Creates a fresh directory only the current user can enter (mkdtemp uses mode 0700), for sockets
 * and pid files of one child process.
 */
export async function createPrivateDir(prefix: string): Promise<string> {
  return mkdtemp(join(tmpdir(), `${prefix}-`));
}

/** Removes a private directory and everything in it; missing is fine. */
export async function removePrivateDir(dir: string): Promise<void> {
  await rm(dir, { recursive: true, force: true });
}
