import { setTimeout as sleep } from 'node:timers/promises';
import type { BackupVolume } from '@bp/api';

/** Longest wait: a newest backup further ahead than the next second means the clock went back; then do not wait. */
const MAX_WAIT_MS = 1000;
/** Past the second boundary by this much, so the wall clock has surely turned. */
const MARGIN_MS = 5;

/**
 * Waits until the wall clock is past the start second of the newest of `volumes` (the guest's
 * backups). Archive names carry their start second (PVE's format), so a backup started in the
 * same second as the previous one of the same guest — a script running `bp backup` twice in a
 * row — would be refused with BP_ALREADY_EXISTS. Waits at most a second.
 *
 * @throws the signal's reason when `signal` aborts the wait.
 */
export async function afterNewestBackupSecond(volumes: readonly Pick<BackupVolume, 'ctime'>[], signal?: AbortSignal, now: () => number = Date.now): Promise<void> {
  if (volumes.length === 0) return;
  const newest = Math.max(...volumes.map((volume) => volume.ctime));
  const wait = (newest + 1) * 1000 - now();
  if (wait <= 0 || wait > MAX_WAIT_MS) return;
  try {
    await sleep(wait + MARGIN_MS, undefined, signal ? { signal } : {});
  } catch (error) {
    // Aborted: the caller's reason (bp's BP_ABORTED), not the timer's AbortError.
    signal?.throwIfAborted();
    throw error;
  }
}
