import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { BpError, type BitmapIdentity } from '@bp/api';
import { bitmapIdentityOf, bitmapNaming } from './bitmap-naming.js';
import { QmpClient, startStorageDaemon } from '@bp/nbd/qemu';
import { deleteBlockNode, queryBlockNode } from './block-nodes.js';
import { CleanupStack } from './cleanup-stack.js';
import type { VmDevice } from './device-access.js';
import { deviceNameFor, nodeTag } from './device-name.js';
import { errorText, setupSnapshotAccess, type VmContext } from './setup-access.js';
import type { OpenedVm, OpenVmOptions, SnapshotAccess, VmDiskSpec } from './types.js';

/** PVE's dirty-bitmap granularity (`PROXMOX_BACKUP_DEFAULT_CHUNK_SIZE`). */
const DEFAULT_GRANULARITY = 4 * 1024 * 1024;

/**
 * Opens a VM's disks for backup: image files of a stopped VM in a qemu-storage-daemon started
 * here, or the block nodes of a running QEMU over its QMP socket.
 *
 * @throws BpError `BP_INVALID_ARGUMENT` for a bad source, `BP_QEMU_FAILED` if an image cannot be
 *   opened, `BP_NOT_FOUND` for an unknown node, `BP_ABORTED`. Nothing is left behind on failure.
 */
export async function openVm(options: OpenVmOptions): Promise<OpenedVm> {
  validateSource(options);
  const log = options.log ?? (() => undefined);
  options.signal?.throwIfAborted();
  await mkdir(options.workDir, { recursive: true, mode: 0o700 });
  const vmDir = await mkdtemp(join(options.workDir, 'vm-'));
  const stack = new CleanupStack((what, error) => log('warn', `closing ${what} failed: ${errorText(error)}`));
  stack.push('work directory', () => rm(vmDir, { recursive: true, force: true }));
  try {
    const { qmp, devices } = await attach(options, stack);
    return openedVm({ qmp, live: options.source.kind === 'qmp', devices, vmDir, granularity: options.bitmapGranularity ?? DEFAULT_GRANULARITY, log, signal: options.signal }, stack);
  } catch (error) {
    await stack.run(false).catch(() => undefined);
    if (options.signal?.aborted && !BpError.hasCode(error, 'BP_ABORTED')) {
      throw new BpError('BP_ABORTED', 'opening the VM was aborted', { cause: error });
    }
    throw error;
  }
}

async function attach(options: OpenVmOptions, stack: CleanupStack): Promise<{ qmp: QmpClient; devices: VmDevice[] }> {
  const { source } = options;
  if (source.kind === 'qmp') {
    const qmp = await QmpClient.connect(source.socketPath);
    // Only the connection is ours: the QEMU process keeps running.
    stack.push('QMP connection', () => qmp.close());
    const devices: VmDevice[] = [];
    for (const disk of source.disks) {
      const node = await queryBlockNode(qmp, disk.nodeName);
      const guestDevice = disk.guestDevice === undefined ? undefined : qomPathOf(disk.guestDevice);
      if (guestDevice !== undefined) await assertGuestDevice(qmp, guestDevice);
      devices.push({
        device: deviceNameFor(disk.virtdev),
        virtdev: disk.virtdev,
        node: disk.nodeName,
        size: node.image['virtual-size'],
        persistentBitmaps: false,
        guestDevice,
      });
    }
    return { qmp, devices };
  }

  // The daemon lives until close(); only its start follows the caller's signal, so that an abort
  // later goes through close() and the bitmaps are committed before the daemon stops.
  const starting = new AbortController();
  const forward = (): void => starting.abort(options.signal?.reason);
  options.signal?.addEventListener('abort', forward, { once: true });
  let daemon;
  try {
    daemon = await startStorageDaemon({ signal: starting.signal });
  } finally {
    options.signal?.removeEventListener('abort', forward);
  }
  const started = daemon;
  stack.push('qemu-storage-daemon', () => started.stop());
  const devices: VmDevice[] = [];
  for (const disk of source.disks) {
    options.signal?.throwIfAborted();
    devices.push(await addImage(started.qmp, disk, stack));
  }
  return { qmp: started.qmp, devices };
}

/** Opens one image as file + format node; closing it (blockdev-del) stores persistent bitmaps. */
async function addImage(qmp: QmpClient, disk: VmDiskSpec, stack: CleanupStack): Promise<VmDevice> {
  const tag = nodeTag(disk.virtdev);
  const fileNode = `${tag}-file`;
  const node = `${tag}-disk`;
  try {
    await qmp.execute('blockdev-add', { driver: 'file', 'node-name': fileNode, filename: disk.image });
    stack.push(`image ${disk.image}`, () => deleteBlockNode(qmp, fileNode));
    await qmp.execute('blockdev-add', { driver: disk.format, 'node-name': node, file: fileNode });
    stack.push(`image ${disk.image}`, () => deleteBlockNode(qmp, node));
  } catch (error) {
    if (!BpError.hasCode(error, 'BP_QMP_ERROR')) throw error;
    throw new BpError('BP_QEMU_FAILED', `cannot open ${disk.image} as ${disk.format}: ${String(error.details.desc)}; check the path, the format and that no other process uses it`, {
      cause: error,
      details: { image: disk.image, format: disk.format },
    });
  }
  const info = await queryBlockNode(qmp, node);
  return { device: deviceNameFor(disk.virtdev), virtdev: disk.virtdev, node, size: info.image['virtual-size'], persistentBitmaps: disk.format === 'qcow2' };
}

function openedVm(vm: VmContext, stack: CleanupStack): OpenedVm {
  let active: SnapshotAccess | undefined;
  let settingUp: Promise<unknown> | undefined;
  let closing: Promise<void> | undefined;
  const close = (): Promise<void> => {
    closing ??= (async () => {
      vm.signal?.removeEventListener('abort', onAbort);
      // A setup in flight finishes (or undoes itself on abort) before its QEMU goes away.
      await settingUp?.catch(() => undefined);
      try {
        if (active) await active.teardown(false).catch((error: unknown) => vm.log('warn', `snapshot access teardown failed: ${errorText(error)}`));
      } finally {
        await stack.run(true);
      }
    })();
    return closing;
  };
  const onAbort = (): void => {
    void close().catch((error: unknown) => vm.log('warn', `closing the VM after abort failed: ${errorText(error)}`));
  };
  vm.signal?.addEventListener('abort', onAbort, { once: true });

  return {
    devices: Object.fromEntries(vm.devices.map((disk) => [disk.device, { size: disk.size }])),
    async bitmapIdentities(storeId, storageInstance) {
      const naming = bitmapNaming(storeId, storageInstance);
      const identities: Record<string, BitmapIdentity | null> = {};
      for (const disk of vm.devices) identities[disk.device] = bitmapIdentityOf(naming, (await queryBlockNode(vm.qmp, disk.node))['dirty-bitmaps'] ?? []) ?? null;
      return identities;
    },
    async setupAccess(options) {
      if (closing) throw new BpError('BP_INVALID_ARGUMENT', 'the VM was closed; open it again');
      if (active || settingUp) {
        throw new BpError('BP_INVALID_ARGUMENT', 'a snapshot access is active for this VM; tear it down first (one access per VM, as in QEMU)');
      }
      // Only one access exists at a time, so its teardown frees the slot.
      const setup = setupSnapshotAccess(vm, options, () => {
        active = undefined;
      })
        .then((created) => {
          active = created;
          return created;
        })
        .finally(() => {
          settingUp = undefined;
        });
      settingUp = setup;
      return setup;
    },
    close,
    [Symbol.asyncDispose]: close,
  };
}

function validateSource(options: OpenVmOptions): void {
  const { source } = options;
  const virtdevs = source.disks.map((disk) => disk.virtdev);
  if (virtdevs.length === 0) throw new BpError('BP_INVALID_ARGUMENT', 'a VM source needs at least one disk');
  if (new Set(virtdevs).size !== virtdevs.length) throw new BpError('BP_INVALID_ARGUMENT', `disk keys must be unique, got ${virtdevs.join(', ')}`);
  for (const virtdev of virtdevs) {
    if (!/^[a-z][a-z0-9]*$/.test(virtdev)) throw new BpError('BP_INVALID_ARGUMENT', `${JSON.stringify(virtdev)} is not a drive key like scsi0 or efidisk0`);
  }
  if (source.kind === 'images') {
    for (const disk of source.disks) {
      if (disk.format !== 'qcow2' && disk.format !== 'raw') throw new BpError('BP_INVALID_ARGUMENT', `format of ${disk.image} must be qcow2 or raw`);
    }
  }
  if (options.bitmapGranularity !== undefined) {
    const granularity = options.bitmapGranularity;
    if (!Number.isInteger(granularity) || granularity < 512 || granularity > 2 ** 31 || (granularity & (granularity - 1)) !== 0) {
      throw new BpError('BP_INVALID_ARGUMENT', `bitmapGranularity must be a power of two from 512 B to 2 GiB, got ${String(granularity)}`);
    }
  }
}

/** A qdev ID names `/machine/peripheral/<id>`; a QOM path is taken as it is. */
function qomPathOf(guestDevice: string): string {
  return guestDevice.startsWith('/') ? guestDevice : `/machine/peripheral/${guestDevice}`;
}

async function assertGuestDevice(qmp: QmpClient, path: string): Promise<void> {
  try {
    await qmp.execute('qom-get', { path, property: 'drive' });
  } catch (error) {
    if (!BpError.hasCode(error, 'BP_QMP_ERROR')) throw error;
    throw new BpError('BP_NOT_FOUND', `QEMU has no guest device ${path} with a drive property; pass the qdev ID of the disk's device`, {
      cause: error,
      details: { path },
    });
  }
}
