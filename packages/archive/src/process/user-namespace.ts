import { readlink, writeFile } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { BpError, type ErrorCode } from '@bp/api';
import { execa, type Options, type ResultPromise } from 'execa';
import { checkIdMap, type IdMapEntry, mappedRoot } from './id-map.js';

const READY_TIMEOUT_MS = 30_000;

/** The lines of `/proc/<pid>/uid_map` or `gid_map` for one type of the map (`inner outer count`). */
function procMap(idMap: readonly IdMapEntry[], type: 'u' | 'g'): string {
  return idMap
    .filter((entry) => entry.type === type)
    .map((entry) => `${entry.inner} ${entry.outer} ${entry.count}\n`)
    .join('');
}

/**
 * bp's one user-namespace runner. Runs `command` as root of a fresh user namespace with the
 * container's ID map `idMap` (what `lxc-usernsexec` does for vzdump and pct restore): files it creates belong to the mapped ids, ACL entries
 * and file capabilities are translated by the kernel, and it cannot create device nodes.
 *
 * `failureCode` is the code of a namespace that could not be set up (default `BP_ARCHIVE_FAILED`).
 * `extraFds` are passed on as fds 4, 5, ... (e.g. an open target directory, reachable as
 * `/proc/self/fd/4` even when its parents are not searchable by the mapped root).
 *
 * The child starts as the mapped root uid, unshares, and waits on fd 3 until this process has
 * written its uid_map/gid_map (which needs root here, and allows any number of ranges); only then
 * does it exec `command`, so the command starts with the namespace's full capabilities.
 *
 * @throws BpError `BP_INVALID_ARGUMENT` for a map that does not map the container's root (or maps
 *   it to host root), `BP_NOT_SUPPORTED` when not running as root.
 */
export async function execaInUserNamespace(
  command: string,
  args: readonly string[],
  idMap: readonly IdMapEntry[],
  options: Options & { extraFds?: number[]; failureCode?: ErrorCode },
): Promise<{ subprocess: ResultPromise }> {
  checkIdMap(idMap);
  const root = mappedRoot(idMap);
  if (process.getuid?.() !== 0) {
    throw new BpError('BP_NOT_SUPPORTED', `Running ${command} with a container ID map needs root (it writes the user namespace ID maps); run as root or do without the ID map.`);
  }
  const script = 'read -r _ <&3 && exec 3<&- && exec "$@"';
  const { stdin = 'pipe', extraFds = [], failureCode = 'BP_ARCHIVE_FAILED', ...rest } = options;
  const subprocess = execa('unshare', ['--user', '--', 'sh', '-c', script, 'sh', command, ...args], {
    // The mapped root may not enter this process' working directory (e.g. /root).
    cwd: '/',
    ...rest,
    uid: root.uid,
    gid: root.gid,
    stdio: [stdin, 'pipe', 'pipe', 'pipe', ...extraFds],
  } as Options) as ResultPromise;
  try {
    await waitForOwnNamespace(subprocess);
    await writeFile(`/proc/${subprocess.pid}/uid_map`, procMap(idMap, 'u'));
    await writeFile(`/proc/${subprocess.pid}/gid_map`, procMap(idMap, 'g'));
    const control = subprocess.stdio[3] as NodeJS.WritableStream;
    control.end('go\n');
  } catch (error) {
    subprocess.kill('SIGKILL');
    await subprocess.catch(() => undefined);
    throw new BpError(failureCode, `Could not set up the user namespace for ${command}: ${(error as Error).message}`, { cause: error });
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
