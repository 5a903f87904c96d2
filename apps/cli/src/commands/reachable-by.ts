import { stat } from 'node:fs/promises';
import { dirname } from 'node:path';
import { BpError } from '@bp/api';

/**
 * Checks that `uid` can search every existing ancestor of `path`: a container tree is extracted as
 * the container's mapped root, which is not the invoking user. Throws BP_INVALID_ARGUMENT naming
 * the blocking directory and the fix.
 */
export async function assertReachableBy(path: string, uid: number, gid: number): Promise<void> {
  const blocking = await blockingDirectory(path, uid, gid);
  if (blocking !== undefined) {
    const { dir, mode } = blocking;
    throw new BpError(
          'BP_INVALID_ARGUMENT',
      `the container data is accessed as the container's mapped root (uid ${uid}), which cannot enter ${dir} (mode ${mode.toString(8)}); use a directory others can search, or run chmod o+x ${dir}`,
      { details: { path, blocking: dir, uid, usage: true } },
    );
  }
}

/** The first existing ancestor of `path` that `uid`/`gid` cannot search, or undefined. */
export async function blockingDirectory(path: string, uid: number, gid: number): Promise<{ dir: string; mode: number } | undefined> {
  if (uid === 0) return undefined;
  for (let dir = dirname(path); ; dir = dirname(dir)) {
    const info = await stat(dir).catch(() => undefined);
    if (info?.isDirectory()) {
      const searchable = info.uid === uid ? (info.mode & 0o100) !== 0 : info.gid === gid ? (info.mode & 0o010) !== 0 : (info.mode & 0o001) !== 0;
      if (!searchable) return { dir, mode: info.mode & 0o777 };
    }
    if (dirname(dir) === dir) return undefined;
  }
}
