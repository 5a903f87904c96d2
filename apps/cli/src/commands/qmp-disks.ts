import { BpError } from '@bp/api';
import { QmpClient } from '@bp/nbd/qemu';

/** A disk of a running QEMU: its PVE drive key and the block node to back up. */
export interface QmpDisk {
  virtdev: string;
  nodeName: string;
}

interface QueryBlockEntry {
  device?: string;
  qdev?: string;
  inserted?: { 'node-name'?: string; ro?: boolean; drv?: string };
}

const VIRTDEV = /^(?:scsi|virtio|sata|ide|efidisk|tpmstate)\d+$/;

/** The drive key of a `query-block` entry: `drive-scsi0` -> `scsi0`, else the qdev id. */
function virtdevOf(entry: QueryBlockEntry): string | undefined {
  const fromDevice = entry.device?.replace(/^drive-/, '');
  if (fromDevice && VIRTDEV.test(fromDevice)) return fromDevice;
  const qdev = entry.qdev?.replace(/\/virtio-backend$/, '').split('/').pop();
  return qdev && VIRTDEV.test(qdev) ? qdev : undefined;
}

/**
 * Reads the disks of a running QEMU from its block graph (`query-block`): every writable drive
 * with a medium whose device or qdev id is a PVE drive key (`drive-scsi0` or `scsi0`).
 */
export async function disksFromQmp(socketPath: string): Promise<QmpDisk[]> {
  let client: QmpClient;
  try {
    client = await QmpClient.connect(socketPath, { timeoutMs: 10_000 });
  } catch (error) {
    throw new BpError('BP_NOT_FOUND', `cannot connect to QMP socket ${socketPath} (${(error as Error).message}); start QEMU with -qmp unix:${socketPath},server=on,wait=off`, {
      cause: error,
      details: { socketPath },
    });
  }
  try {
    const entries = await client.execute<QueryBlockEntry[]>('query-block', undefined, { timeoutMs: 30_000 });
    const disks = entries.flatMap((entry) => {
      const virtdev = virtdevOf(entry);
      const nodeName = entry.inserted?.['node-name'];
      return virtdev && nodeName && entry.inserted?.ro !== true ? [{ virtdev, nodeName }] : [];
    });
    if (disks.length === 0) {
      throw new BpError('BP_NOT_FOUND', `the QEMU at ${socketPath} has no writable disk named like a PVE drive (drive-scsi0, virtio0, ...); name devices with id=drive-<key> or pass --disk <key>=<node-name>`, {
        details: { socketPath, devices: entries.map((entry) => entry.device ?? entry.qdev ?? '') },
      });
    }
    return disks;
  } finally {
    await client.close();
  }
}
