import { mkdir, readFile, rm, rmdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { BpError } from '@bp/api';
import { settlesWithin } from '@bp/nbd/qemu';
import { execa } from 'execa';

const READY_TIMEOUT_MS = 60_000;
const UNMOUNT_GRACE_MS = 5_000;
const POLL_MS = 25;

/** An NBD export presented as a file by an `nbdfuse` child. */
export interface NbdfuseMount {
  /** The virtual file. */
  readonly path: string;
  readonly pid: number;
  /** Unmounts (fusermount3 -u), waits for nbdfuse to exit (TERM/KILL as a last resort), removes the mount point. Idempotent. */
  unmount(): Promise<void>;
}

/**
 * Mounts `uri` as `<mountDir>/<fileName>` with nbdfuse, as qemu-server does for the `file-handle`
 * mechanism (spec 1.2.3), and resolves once nbdfuse wrote its pid file (= serving).
 *
 * @throws BpError `BP_MOUNT_FAILED` if nbdfuse exits or does not become ready.
 */
export async function mountNbdfuse(mountDir: string, fileName: string, uri: string): Promise<NbdfuseMount> {
  await mkdir(mountDir, { mode: 0o700 });
  const pidFile = `${mountDir}.pid`;
  const path = join(mountDir, fileName);
  const child = execa('nbdfuse', ['--pidfile', pidFile, path, uri], {
    stdin: 'ignore',
    stdout: 'ignore',
    stderr: 'pipe',
    reject: false,
    // Killed with this process; a SIGTERM is followed by SIGKILL after the grace time.
    cleanup: true,
    forceKillAfterDelay: UNMOUNT_GRACE_MS,
  });
  let exited = false;
  const exit = child.then((result) => {
    exited = true;
    return result;
  });

  let unmounting: Promise<void> | undefined;
  const unmount = (): Promise<void> => {
    unmounting ??= (async () => {
      if (!exited) {
        await execa('fusermount3', ['-u', '-q', mountDir], { reject: false });
        const gone = await settlesWithin(exit, UNMOUNT_GRACE_MS);
        if (!gone) {
          child.kill('SIGTERM');
          await exit;
          // A killed nbdfuse leaves a dead mount ("transport endpoint is not connected").
          await execa('fusermount3', ['-u', '-z', '-q', mountDir], { reject: false });
        }
      }
      await rm(pidFile, { force: true });
      // rmdir, not rm -r: should the mount still be there, this fails instead of reaching into it.
      await rmdir(mountDir).catch((error: NodeJS.ErrnoException) => {
        if (error.code !== 'ENOENT') throw error;
      });
    })();
    return unmounting;
  };

  try {
    const deadline = Date.now() + READY_TIMEOUT_MS;
    while (!(await isReady(pidFile, path))) {
      if (exited) {
        const result = await exit;
        throw new BpError('BP_MOUNT_FAILED', `nbdfuse could not present ${uri} as a file: ${String(result.stderr).trim() || result.shortMessage}`, {
          details: { uri, path },
        });
      }
      if (Date.now() > deadline) {
        throw new BpError('BP_MOUNT_FAILED', `nbdfuse did not present ${uri} within ${String(READY_TIMEOUT_MS)} ms; is /dev/fuse available?`, {
          details: { uri, path },
        });
      }
      await sleep(POLL_MS);
    }
    return { path, pid: child.pid ?? -1, unmount };
  } catch (error) {
    await unmount();
    throw error;
  }
}

async function isReady(pidFile: string, path: string): Promise<boolean> {
  try {
    if ((await readFile(pidFile, 'utf8')).trim() === '') return false;
    await stat(path);
    return true;
  } catch {
    return false;
  }
}
