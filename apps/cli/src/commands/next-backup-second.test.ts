import { describe, expect, it } from 'vitest';
import { afterNewestBackupSecond } from './next-backup-second.js';

describe('afterNewestBackupSecond', () => {
  it('waits into the next second when the newest backup started in this one', async () => {
    const second = Math.floor(Date.now() / 1000);
    await afterNewestBackupSecond([{ ctime: second - 300 }, { ctime: second }, { ctime: second - 1 }]);
    expect(Math.floor(Date.now() / 1000)).toBeGreaterThan(second);
  });

  it('does not wait for older backups, none, or a newest one far ahead (a clock that went back)', async () => {
    const now = 1_800_000_000_500;
    const started = performance.now();
    await afterNewestBackupSecond([{ ctime: 1_799_999_999 }], undefined, () => now);
    await afterNewestBackupSecond([], undefined, () => now);
    await afterNewestBackupSecond([{ ctime: 1_800_000_100 }], undefined, () => now);
    expect(performance.now() - started).toBeLessThan(100);
  });

  it('stops waiting when aborted, with the abort reason', async () => {
    const controller = new AbortController();
    const reason = new Error('stop');
    controller.abort(reason);
    await expect(afterNewestBackupSecond([{ ctime: Math.floor(Date.now() / 1000) }], controller.signal)).rejects.toBe(reason);
  });
});
