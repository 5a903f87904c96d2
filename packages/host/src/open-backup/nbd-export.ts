import { access, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { BpError } from '@bp/api';
import { identify, nbdUnixUri, startStorageDaemon, type StorageDaemon } from '@bp/nbd/qemu';
import { runTool } from './run-tool.js';
import type { Session } from './session.js';
import type { VmDiskView } from './vm-views.js';

/** Where the NBD server listens. */
export type NbdListen = { socket: string } | { tcp: { host: string; port: number } } | undefined;

/** One served disk. */
export interface ServedDisk {
  virtdev: string;
  device: string;
  size: number;
  /** The NBD export name (the virtdev). */
  exportName: string;
  /** `nbd+unix:///<export>?socket=<path>` or `nbd://<host>:<port>/<export>`. */
  uri: string;
  writable: boolean;
  /** The qcow2 overlay that takes the writes, when writable. */
  overlay?: string;
}

/** Checks or creates the qcow2 overlay of a writable serve (the backup is never written). */
async function prepareOverlay(overlay: string, size: number): Promise<void> {
  if (!(await access(overlay).then(() => true, () => false))) {
    await runTool('qemu-img', ['create', '-q', '-f', 'qcow2', overlay, String(size)], 'BP_QEMU_FAILED', `create overlay ${overlay}`);
    return;
  }
  // A reused overlay: its own backing-file header is ignored (the backing is given by node),
  // but an external data file would be followed, so it is refused.
  const info = JSON.parse(await runTool('qemu-img', ['info', '--output=json', '-f', 'qcow2', '--force-share', overlay], 'BP_UNSAFE_IMAGE', `inspect overlay ${overlay}`)) as {
    'virtual-size': number;
    'format-specific'?: { data?: { 'data-file'?: string } };
  };
  if (info['format-specific']?.data?.['data-file'] !== undefined) {
    throw new BpError('BP_UNSAFE_IMAGE', `overlay ${overlay} uses an external data file; give a new file name for --writable`);
  }
  if (info['virtual-size'] !== size) {
    throw new BpError('BP_INVALID_ARGUMENT', `overlay ${overlay} is ${info['virtual-size']} bytes, the disk ${size}; it belongs to another disk — give a new file name`);
  }
}

function uriFor(listen: NbdListen, socket: string, exportName: string): string {
  if (listen && 'tcp' in listen) {
    const host = listen.tcp.host.includes(':') ? `[${listen.tcp.host}]` : listen.tcp.host;
    return `nbd://${host}:${listen.tcp.port}/${encodeURIComponent(exportName)}`;
  }
  return nbdUnixUri(socket, exportName);
}

/**
 * Serves the provider's raw views over NBD from one qemu-storage-daemon: each view is opened
 * read-only as raw (never probed); a writable disk gets a qcow2 overlay whose backing is the
 * read-only node, so writes land in the overlay only.
 */
export async function startNbdExports(
  session: Session,
  disks: readonly VmDiskView[],
  options: { listen: NbdListen; overlay?: string; signal?: AbortSignal },
): Promise<{ daemon: StorageDaemon; served: ServedDisk[] }> {
  const overlay = options.overlay === undefined ? undefined : resolve(options.overlay);
  if (overlay !== undefined && disks.length !== 1) {
    throw new BpError('BP_INVALID_ARGUMENT', `a writable serve takes one disk; choose it with --disk (${disks.map((disk) => disk.virtdev).join(', ')})`);
  }
  if (overlay !== undefined) await prepareOverlay(overlay, disks[0]!.size);
  const listen = options.listen;
  if (listen && 'socket' in listen && (await access(listen.socket).then(() => true, () => false))) {
    throw new BpError('BP_ALREADY_EXISTS', `socket ${listen.socket} already exists; remove it or choose another path`);
  }
  const daemon = await startStorageDaemon(options.signal ? { signal: options.signal } : {});
  try {
    const identity = await identify(daemon.pid);
    await session.update((record) => {
      record.processes.push({ ...identity, dir: daemon.dir });
    });
    const socket = listen && 'socket' in listen ? resolve(listen.socket) : join(daemon.dir, 'nbd.sock');
    // nbd-server-start takes the legacy socket address form ({ type, data }).
    const addr = listen && 'tcp' in listen ? { type: 'inet', data: { host: listen.tcp.host, port: String(listen.tcp.port) } } : { type: 'unix', data: { path: socket } };
    const served: ServedDisk[] = [];
    const topNode = new Map<string, string>();
    for (const disk of disks) {
      const node = `view-${disk.virtdev}`;
      const blockDevice = (await stat(disk.path)).isBlockDevice();
      await daemon.qmp.execute('blockdev-add', {
        driver: 'raw',
        'node-name': node,
        'read-only': true,
        file: { driver: blockDevice ? 'host_device' : 'file', filename: disk.path, 'read-only': true },
      });
      let top = node;
      if (overlay !== undefined) {
        top = `overlay-${disk.virtdev}`;
        await daemon.qmp.execute('blockdev-add', { driver: 'qcow2', 'node-name': top, file: { driver: 'file', filename: overlay }, backing: node });
      }
      served.push({
        virtdev: disk.virtdev,
        device: disk.device,
        size: disk.size,
        exportName: disk.virtdev,
        uri: uriFor(listen, socket, disk.virtdev),
        writable: overlay !== undefined,
        ...(overlay !== undefined ? { overlay } : {}),
      });
      topNode.set(disk.virtdev, top);
    }
    await daemon.qmp.execute('nbd-server-start', { addr });
    for (const disk of disks) {
      await daemon.qmp.execute('block-export-add', {
        type: 'nbd',
        id: `export-${disk.virtdev}`,
        'node-name': topNode.get(disk.virtdev)!,
        name: disk.virtdev,
        writable: overlay !== undefined,
      });
    }
    return { daemon, served };
  } catch (error) {
    await daemon.stop();
    throw BpError.isInstance(error) ? error : new BpError('BP_QEMU_FAILED', `starting the NBD export failed: ${String(error)}`, { cause: error });
  }
}
