import { access, rm } from 'node:fs/promises';
import { resolve } from 'node:path';
import { restoreError } from '../restore/restore-source.js';
import { startNbdExports, type NbdListen, type ServedDisk } from './nbd-export.js';
import { withNewSession, type OpenBackupCommonOptions } from './open-session.js';
import { openVmViews } from './vm-views.js';

/** Options of {@link serveBackup}. */
export interface ServeBackupOptions extends OpenBackupCommonOptions {
  /** Serve only this disk (`scsi0` or `drive-scsi0`); default every disk, one export each. */
  disk?: string;
  /** A Unix socket path or a TCP address; default a socket in a private directory. */
  listen?: NbdListen;
  /**
   * A qcow2 overlay (created when missing) that takes the writes of a writable export; the
   * backup itself is never written. Needs a single disk.
   */
  overlay?: string;
}

/** A running export of a restore point. */
export interface ServedBackup {
  disks: ServedDisk[];
  /** Stops the export and releases the provider's views. Idempotent. */
  close(): Promise<void>;
}

/**
 * Serves a restore point (any generation) over NBD through the restore path's validated,
 * read-only views — e.g. for `qemu-system-x86_64 -drive file=nbd+unix:///scsi0?socket=...` to
 * boot it at once. With `overlay`, writes go to a qcow2 overlay in front.
 */
export async function serveBackup(options: ServeBackupOptions): Promise<ServedBackup> {
  const overlay = options.overlay === undefined ? undefined : resolve(options.overlay);
  const overlayExisted = overlay === undefined ? true : await access(overlay).then(() => true, () => false);
  try {
    return await withNewSession(options, 'serve', async (session, volname) => {
      const { disks } = await openVmViews(session, options.storage, volname, options.disk, options.log ?? (() => {}));
      const { daemon, served } = await startNbdExports(session, disks, {
        listen: options.listen,
        ...(overlay !== undefined ? { overlay } : {}),
        ...(options.signal ? { signal: options.signal } : {}),
      });
      let closed = false;
      return {
        disks: served,
        async close() {
          if (closed) return;
          closed = true;
          await daemon.stop();
          if (options.listen && 'socket' in options.listen) await rm(resolve(options.listen.socket), { force: true });
          await session.release();
        },
      };
    });
  } catch (error) {
    // Bad input leaves nothing behind: an overlay this call created goes again.
    if (!overlayExisted && overlay !== undefined) await rm(overlay, { force: true });
    throw restoreError(error, `serving ${options.volid}`);
  }
}
