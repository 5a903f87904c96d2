import { mkdir, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { BpError } from '@bp/api';
import lockfile from 'proper-lockfile';

/**
 * Runs `action` while holding the per-VMID lock of a storage (`<path>/<vmid>/.lock`), so
 * concurrent jobs, prune and delete on one storage never interleave changes to a chain or to
 * previous-info. Works across processes (proper-lockfile: mkdir-based, stale after 30 s of no
 * heartbeat, so a crashed holder cannot block forever).
 */
export async function withGuestLock<T>(lockTarget: string, action: () => Promise<T>): Promise<T> {
  await mkdir(dirname(lockTarget), { recursive: true, mode: 0o755 });
  await writeFile(lockTarget, '', { flag: 'a' });
  let release: () => Promise<void>;
  try {
    release = await lockfile.lock(lockTarget, { stale: 30_000, update: 5_000, realpath: false, retries: { retries: 600, minTimeout: 50, maxTimeout: 500 } });
  } catch (error) {
    throw new BpError('BP_LOCKED', `could not lock ${dirname(lockTarget)}: another job, prune or delete holds it; retry when it has finished`, {
      cause: error,
    });
  }
  try {
    return await action();
  } finally {
    await release().catch(() => undefined);
  }
}
