import type { QmpClient } from '@bp/nbd/qemu';

/**
 * Runs `action` with the guest's vCPUs stopped (QMP `stop` drains I/O), so that what it sets up
 * for several disks is one crash-consistent point in time, as PVE's single
 * `backup-access-setup` call is. A guest that was not running stays as it was.
 */
export async function withGuestPaused<T>(qmp: QmpClient, action: () => Promise<T>): Promise<T> {
  const { running } = await qmp.execute<{ running: boolean }>('query-status');
  if (running) await qmp.execute('stop');
  try {
    return await action();
  } finally {
    if (running) await qmp.execute('cont');
  }
}
