import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { BpError } from '@bp/api';
import type { QmpClient } from '@bp/nbd/qemu';
import { execa } from 'execa';
import type { BitmapPlan } from './bitmap-plan.js';
import { backgroundBitmapName, commitBitmap, createFullyDirtyBitmap, freezeActions, removeBitmapIfPresent, type TransactionAction } from './bitmaps.js';
import { deleteBlockNode } from './block-nodes.js';
import type { CleanupStack } from './cleanup-stack.js';
import { nodeTag } from './device-name.js';

/** A disk of the opened VM. */
export interface VmDevice {
  /** PVE device name, e.g. `drive-scsi0`. */
  device: string;
  virtdev: string;
  /** The block node holding the disk's data (format node). */
  node: string;
  size: number;
  /** Bitmaps survive in the image (offline qcow2). */
  persistentBitmaps: boolean;
  /** QOM path of the guest device using `node` in a running QEMU, if known. */
  guestDevice?: string | undefined;
}

/** What one device's access consists of in QEMU. */
export interface DeviceAccessNodes {
  /** The copy-before-write filter: writes must pass it. */
  cbwNode: string;
  /** The `snapshot-access` node: the disk at the point in time, to be exported. */
  accessNode: string;
}

/** Shared state of one setup. */
export interface DeviceAccessContext {
  qmp: QmpClient;
  /** A running QEMU: the filter is inserted by a `sync=none` backup job (see README). */
  live: boolean;
  runDir: string;
  /** Socket of the NBD server, already running. */
  nbdPath: string;
  granularity: number;
  stack: CleanupStack;
}

/** The names of one device's access bitmap. */
export interface DeviceBitmapNames {
  /** The bitmap the access uses: the existing one (reuse) or the one created now. */
  name: string;
  /** The existing bitmap that `plan.remove` drops (defaults to `name`). */
  existing?: string | undefined;
  /** On success the bitmap continues under this name (a new generation); undefined keeps `name`. */
  commitAs?: string | undefined;
}

/**
 * Sets up the point-in-time access of one disk (spec 1.2.1): bitmap per `plan`, a qcow2 fleecing
 * image, a copy-before-write filter (limited to the bitmap's dirty extents when one is used) and a
 * `snapshot-access` node on top. Every step registers its undo on `context.stack`. In a running
 * QEMU, call it with the guest paused (see {@link withGuestPaused}).
 */
export async function setupDeviceAccess(
  context: DeviceAccessContext,
  disk: VmDevice,
  plan: BitmapPlan,
  names: DeviceBitmapNames,
): Promise<DeviceAccessNodes> {
  const { qmp, stack } = context;
  const bitmapName = names.name;
  const tag = nodeTag(disk.virtdev);
  const usesBitmap = plan.mode !== 'none';

  // A background bitmap left by a process that died during an access would block the freeze.
  await removeBitmapIfPresent(qmp, disk.node, backgroundBitmapName(names.existing ?? bitmapName));
  if (plan.remove) await removeBitmapIfPresent(qmp, disk.node, names.existing ?? bitmapName);
  if (plan.create) {
    await createFullyDirtyBitmap(qmp, {
      node: disk.node,
      name: bitmapName,
      size: disk.size,
      granularity: context.granularity,
      persistent: disk.persistentBitmaps,
      tag,
      nbdPath: context.nbdPath,
    });
  }

  const fleeceNode = await addFleecingImage(context, disk, tag);
  const cbwNode = `${tag}-cbw`;
  const freeze: TransactionAction[] = usesBitmap ? freezeActions(disk.node, bitmapName, context.granularity) : [];
  const commitOnTeardown = (): void => {
    if (!usesBitmap) return;
    const commit = { node: disk.node, name: bitmapName, renameTo: names.commitAs, granularity: context.granularity, persistent: disk.persistentBitmaps };
    stack.push(`bitmap ${bitmapName} of ${disk.device}`, (success) => commitBitmap(qmp, commit, success));
  };

  const addFilter = async (): Promise<void> => {
    await qmp.execute('blockdev-add', {
      driver: 'copy-before-write',
      'node-name': cbwNode,
      file: disk.node,
      target: fleeceNode,
      // Failing copies must not fail guest writes; the snapshot becomes unreadable instead.
      'on-cbw-error': 'break-snapshot',
      ...(usesBitmap ? { bitmap: { node: disk.node, name: bitmapName } } : {}),
    });
    stack.push(`copy-before-write node of ${disk.device}`, () => deleteBlockNode(qmp, cbwNode));
  };

  if (!context.live) {
    // Offline: nothing writes to the node but what goes through the filter (writeExportFor).
    if (freeze.length > 0) await qmp.execute('transaction', { actions: freeze });
    commitOnTeardown();
    await addFilter();
  } else if (disk.guestDevice !== undefined) {
    // The caller pauses the guest around this, so the bitmap freeze, the filter and the device
    // switch are one point in time.
    const guestDevice = disk.guestDevice;
    if (freeze.length > 0) await qmp.execute('transaction', { actions: freeze });
    commitOnTeardown();
    await addFilter();
    const previous = await qmp.execute<string>('qom-get', { path: guestDevice, property: 'drive' });
    await qmp.execute('qom-set', { path: guestDevice, property: 'drive', value: cbwNode });
    stack.push(`drive of ${guestDevice}`, () => qmp.execute('qom-set', { path: guestDevice, property: 'drive', value: previous }).then(() => undefined));
  } else {
    // QEMU 7.2 cannot put a filter under users of a node it does not know as a device, but a
    // sync=none backup job inserts copy-before-write itself and moves every user of the node
    // onto it. Its filter takes no bitmap: reads outside the dirty extents are not refused.
    const jobId = `${tag}-fleece`;
    const backup: TransactionAction = {
      type: 'blockdev-backup',
      data: { 'job-id': jobId, device: disk.node, target: fleeceNode, sync: 'none', 'filter-node-name': cbwNode, 'auto-dismiss': true },
    };
    await qmp.execute('transaction', { actions: [...freeze, backup] });
    commitOnTeardown();
    stack.push(`fleecing job of ${disk.device}`, () => cancelJob(qmp, jobId));
  }

  const accessNode = `${tag}-access`;
  // discard=unmap: QEMU silently drops discards on nodes without it; the provider's discards must
  // reach the fleecing image.
  await qmp.execute('blockdev-add', { driver: 'snapshot-access', 'node-name': accessNode, file: cbwNode, discard: 'unmap' });
  stack.push(`snapshot-access node of ${disk.device}`, () => deleteBlockNode(qmp, accessNode));
  return { cbwNode, accessNode };
}

/** Creates and attaches the fleecing image (discard passes through, so discarded data frees space). */
async function addFleecingImage(context: DeviceAccessContext, disk: VmDevice, tag: string): Promise<string> {
  const path = join(context.runDir, `${tag}-fleece.qcow2`);
  const node = `${tag}-fleece`;
  const created = await execa('qemu-img', ['create', '-q', '-f', 'qcow2', path, String(disk.size)], { reject: false });
  if (created.failed) {
    throw new BpError('BP_QEMU_FAILED', `cannot create the fleecing image ${path}: ${String(created.stderr).trim() || created.shortMessage}; check space in workDir`, {
      details: { path },
    });
  }
  context.stack.push(`fleecing image of ${disk.device}`, () => rm(path, { force: true }));
  await context.qmp.execute('blockdev-add', {
    driver: 'qcow2',
    'node-name': node,
    discard: 'unmap',
    file: { driver: 'file', filename: path, discard: 'unmap' },
  });
  context.stack.push(`fleecing node of ${disk.device}`, () => deleteBlockNode(context.qmp, node));
  return node;
}

/** Cancels a block job and waits until QEMU has dismissed it (and dropped its filter). */
async function cancelJob(qmp: QmpClient, jobId: string): Promise<void> {
  const gone = qmp.waitForEvent('JOB_STATUS_CHANGE', (event) => event.data.id === jobId && event.data.status === 'null');
  gone.catch(() => undefined);
  await qmp.execute('block-job-cancel', { device: jobId, force: true });
  await gone;
}
