import { readlink, writeFile } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { BpError } from '@bp/api';
import { execa, type Options, type ResultPromise } from 'execa';

/** The host ids the container's ids 0..count-1 map to (an unprivileged container's ID map). */
export interface IdMapping {
  /** Host uid of the container's root, e.g. 100000. */
  uid: number;
  /** Host gid of the container's root, e.g. 100000. */
  gid: number;
  /** How many ids are mapped; default 65536. */
  count?: number;
}

const READY_TIMEOUT_MS = 30_000;

/**
 * Runs `command` as root of a fresh user namespace whose ids map to `mapping` (what
 * `lxc-usernsexec` does for pct restore): files it creates belong to the mapped ids, ACL entries
 * and file capabilities are translated by the kernel, and it cannot create device nodes.
 *
 * `extraFds` are passed on as fds 4, 5, ... (e.g. an open target directory, reachable as
 * `/proc/self/fd/4` even when its parents are not searchable by the mapped root).
 *
 * The child starts as the mapped root uid, unshares, and waits on fd 3 until this process has
 * written its uid_map/gid_map (which needs root here); only then does it exec `command`, so the
 * command starts with the namespace's full capabilities.
 */
export async function execaInUserNamespace(
  command: string,
  args: readonly string[],
  mapping: IdMapping,
  options: Options & { extraFds?: number[] },
): Promise<{ subprocess: ResultPromise }> {
  if (process.getuid?.() !== 0) {
    throw new BpError('BP_NOT_SUPPORTED', 'Extracting with an ID mapping needs root (it writes the user namespace ID maps); run as root or extract without idMapping.');
  }
  const count = mapping.count ?? 65_536;
  const script = 'read -r _ <&3 && exec 3<&- && exec "$@"';
  const { stdin = 'pipe', extraFds = [], ...rest } = options;
  const subprocess = execa('unshare', ['--user', '--', 'sh', '-c', script, 'sh', command, ...args], {
    ...rest,
    uid: mapping.uid,
    gid: mapping.gid,
    stdio: [stdin, 'pipe', 'pipe', 'pipe', ...extraFds],
  } as Options) as ResultPromise;
  try {
    await waitForOwnNamespace(subprocess);
    await writeFile(`/proc/${subprocess.pid}/uid_map`, `0 ${mapping.uid} ${count}\n`);
    await writeFile(`/proc/${subprocess.pid}/gid_map`, `0 ${mapping.gid} ${count}\n`);
    const control = subprocess.stdio[3] as NodeJS.WritableStream;
    control.end('go\n');
  } catch (error) {
    subprocess.kill('SIGKILL');
    await subprocess.catch(() => undefined);
    throw new BpError('BP_ARCHIVE_FAILED', `Could not set up the user namespace for ${command}: ${(error as Error).message}`, { cause: error });
  }
  // Wrapped: returning the subprocess itself from an async function would await its exit.
  return { subprocess };
}

async function waitForOwnNamespace(subprocess: ResultPromise): Promise<void> {
  const own = await readlink('/proc/self/ns/user');
  const deadline = Date.now() + READY_TIMEOUT_MS;
  while (Date.now() < deadline) {
    if (subprocess.exitCode !== null) throw new Error(`unshare exited early with code ${subprocess.exitCode}`);
    const child = await readlink(`/proc/${subprocess.pid}/ns/user`).catch(() => own);
    if (child !== own) return;
    await sleep(5);
  }
  throw new Error('unshare did not create a user namespace in time');
}
