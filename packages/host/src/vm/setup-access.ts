import { mkdtemp, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { VmVolume, VmVolumes } from '@bp/api';
import { BpError } from '@bp/api';
import type { LogFunction } from '@bp/api';
import type { QmpClient } from '@bp/nbd/qemu';
import { bitmapNameOf, bitmapNaming, newGeneration, storageBitmaps, type BitmapNaming } from './bitmap-naming.js';
import { planBitmap, type BitmapPlan } from './bitmap-plan.js';
import { queryBlockNode } from './block-nodes.js';
import { CleanupStack } from './cleanup-stack.js';
import { setupDeviceAccess, type DeviceAccessNodes, type DeviceBitmapNames, type VmDevice } from './device-access.js';
import { createFileHandleVolume } from './file-handle/file-handle-volume.js';
import { withGuestPaused } from './guest-pause.js';
import { addNbdExport, nbdUnixUri, startNbdServer } from './nbd-exports.js';
import type { SetupAccessOptions, SnapshotAccess, WriteTarget } from './types.js';

/** The opened VM as the access setup sees it. */
export interface VmContext {
  qmp: QmpClient;
  live: boolean;
  devices: VmDevice[];
  /** bp's directory for this VM (inside the caller's workDir). */
  vmDir: string;
  granularity: number;
  log: LogFunction;
  signal?: AbortSignal | undefined;
}

/** PVE's storage ID syntax (`pve-storage-id`). */
const STORE_ID = /^[a-z][a-z0-9\-_.]*[a-z0-9]$/i;
/** sockaddr_un.sun_path holds 108 bytes including the terminating NUL. */
const MAX_SOCKET_PATH = 107;

/**
 * Sets up the snapshot access of all devices (spec 1.2.1–1.2.4). On failure everything done so
 * far is undone (bitmaps as after a failed backup) before the error is rethrown.
 */
export async function setupSnapshotAccess(vm: VmContext, options: SetupAccessOptions, onTornDown: () => void = () => undefined): Promise<SnapshotAccess> {
  validate(vm, options);
  const naming = bitmapNaming(options.storeId, options.storageInstance);
  const runDir = await mkdtemp(join(vm.vmDir, 'access-'));
  const stack = new CleanupStack((what, error) => vm.log('warn', `teardown of ${what} failed: ${errorText(error)}`));
  stack.push('run directory', () => rm(runDir, { recursive: true, force: true }));
  try {
    const nbdPath = await socketPathFor(runDir, stack);
    const accessNodes = new Map<string, DeviceAccessNodes>();
    const volumes: VmVolumes = {};
    const bitmapStatus: Record<string, string> = {};
    const modes = new Map<string, VmVolume['bitmapMode']>();
    const bitmaps = new Map<string, DeviceBitmapNames>();
    // The server comes first: creating a fully dirty bitmap needs it (see createFullyDirtyBitmap).
    await startNbdServer(vm.qmp, nbdPath, stack);
    const context = { qmp: vm.qmp, live: vm.live, runDir, nbdPath, granularity: vm.granularity, stack };
    const setupDevices = async (): Promise<void> => {
      for (const disk of vm.devices) {
        throwIfAborted(vm.signal);
        const { plan, names } = await planDeviceBitmap(vm.qmp, naming, disk, options.answers?.[disk.device]);
        accessNodes.set(disk.device, await setupDeviceAccess(context, disk, plan, names));
        modes.set(disk.device, plan.mode);
        bitmaps.set(disk.device, names);
        // Reported once, in the job's task log (archive-vm), as vzdump does.
        bitmapStatus[disk.device] = plan.status;
      }
    };
    // A running guest is paused across all disks: one point in time for the whole VM.
    await (vm.live ? withGuestPaused(vm.qmp, setupDevices) : setupDevices());

    for (const disk of vm.devices) {
      throwIfAborted(vm.signal);
      const mode = modes.get(disk.device) ?? 'none';
      const nodes = accessNodes.get(disk.device);
      if (!nodes) continue;
      const withBitmap = mode !== 'none';
      const names = bitmaps.get(disk.device);
      const bitmapName = withBitmap ? names?.name : undefined;
      const generation = withBitmap && naming.kind === 'instance' && names?.commitAs !== undefined ? { bitmapGeneration: generationOf(names.commitAs) } : {};
      // Writable only so that the provider can discard what it stored (spec VM-13).
      await addNbdExport(
        vm.qmp,
        { name: disk.device, node: nodes.accessNode, writable: true, bitmap: bitmapName === undefined ? undefined : { node: disk.node, name: bitmapName } },
        stack,
      );
      volumes[disk.device] =
        options.mechanism === 'nbd'
          ? { mechanism: 'nbd', size: disk.size, bitmapMode: mode, ...generation, nbdPath, exportName: disk.device, ...(bitmapName === undefined ? {} : { bitmapName }) }
          : await createFileHandleVolume({
              device: disk.device,
              size: disk.size,
              bitmapMode: mode,
              ...generation,
              bitmapName,
              nbdPath,
              runDir,
              stack,
              signal: vm.signal,
            });
    }
    return snapshotAccess(vm, stack, { volumes, bitmapStatus, accessNodes, nbdPath }, onTornDown);
  } catch (error) {
    await stack.run(false).catch(() => undefined);
    if (vm.signal?.aborted && !BpError.hasCode(error, 'BP_ABORTED')) {
      throw new BpError('BP_ABORTED', 'setting up the snapshot access was aborted', { cause: error });
    }
    throw error;
  }
}

/**
 * The bitmap plan of one device under `naming`. With instance naming the bitmap created now gets
 * a fresh generation, and a successful teardown moves it to another fresh one, which the
 * provider records; stray bitmaps of the same storage (left by a crash mid-commit) are dropped.
 */
async function planDeviceBitmap(
  qmp: QmpClient,
  naming: BitmapNaming,
  disk: VmDevice,
  answer: 'new' | 'use' | 'none' | undefined,
): Promise<{ plan: BitmapPlan; names: DeviceBitmapNames }> {
  const found = storageBitmaps(naming, (await queryBlockNode(qmp, disk.node))['dirty-bitmaps'] ?? []);
  if (naming.kind === 'pve') {
    const name = bitmapNameOf(naming, '');
    return { plan: planBitmap(answer, found[0]?.info, disk.size), names: { name } };
  }
  if (found.length > 1) for (const stray of found) await qmp.execute('block-dirty-bitmap-remove', { node: disk.node, name: stray.info.name });
  const existing = found.length === 1 ? found[0]?.info : undefined;
  const plan = planBitmap(answer, existing, disk.size);
  const name = plan.create ? bitmapNameOf(naming, newGeneration()) : (existing?.name ?? bitmapNameOf(naming, newGeneration()));
  return { plan, names: { name, existing: existing?.name, commitAs: bitmapNameOf(naming, newGeneration()) } };
}

/** The generation part of an instance-named bitmap. */
function generationOf(name: string): string {
  return name.slice(name.lastIndexOf(':') + 1);
}

/**
 * The NBD socket path: inside `runDir`, or in a fresh directory under `/tmp` when that would not
 * fit a Unix socket address (deep work directories, e.g. a tool's private TMPDIR inside another's).
 */
async function socketPathFor(runDir: string, stack: CleanupStack): Promise<string> {
  const inRunDir = join(runDir, 'nbd.sock');
  if (Buffer.byteLength(inRunDir) <= MAX_SOCKET_PATH) return inRunDir;
  const shortDir = await mkdtemp('/tmp/bp-nbd-');
  stack.push('socket directory', () => rm(shortDir, { recursive: true, force: true }));
  const path = join(shortDir, 'nbd.sock');
  if (Buffer.byteLength(path) > MAX_SOCKET_PATH) throw new BpError('BP_INVALID_ARGUMENT', `the NBD socket path ${path} is too long for a Unix socket`);
  return path;
}

interface AccessState {
  volumes: VmVolumes;
  bitmapStatus: Record<string, string>;
  accessNodes: Map<string, DeviceAccessNodes>;
  nbdPath: string;
}

function snapshotAccess(vm: VmContext, stack: CleanupStack, state: AccessState, onTornDown: () => void): SnapshotAccess {
  const writeExports = new Map<string, Promise<WriteTarget>>();
  let tornDown: Promise<void> | undefined;
  const teardown = (success: boolean): Promise<void> => {
    tornDown ??= stack.run(success).finally(onTornDown);
    return tornDown;
  };
  const writeNodes = Object.fromEntries([...state.accessNodes].map(([device, nodes]) => [device, nodes.cbwNode]));
  return {
    volumes: state.volumes,
    bitmapStatus: state.bitmapStatus,
    writeNodes,
    writeExportFor(device: string): Promise<WriteTarget> {
      if (tornDown) return Promise.reject(new BpError('BP_INVALID_ARGUMENT', 'the snapshot access was torn down already'));
      const node = writeNodes[device];
      if (node === undefined) return Promise.reject(new BpError('BP_NOT_FOUND', `no device ${device} in this snapshot access`));
      let target = writeExports.get(device);
      if (!target) {
        const exportName = `${device}-write`;
        target = addNbdExport(vm.qmp, { name: exportName, node, writable: true }, stack).then(() => ({
          nbdPath: state.nbdPath,
          exportName,
          uri: nbdUnixUri(state.nbdPath, exportName),
        }));
        writeExports.set(device, target);
      }
      return target;
    },
    teardown,
    [Symbol.asyncDispose]: () => teardown(false),
  };
}

function validate(vm: VmContext, options: SetupAccessOptions): void {
  if (!STORE_ID.test(options.storeId)) {
    throw new BpError('BP_INVALID_ARGUMENT', `storeId ${JSON.stringify(options.storeId)} is not a PVE storage ID (letters, digits, - _ .)`);
  }
  if (options.mechanism !== 'nbd' && options.mechanism !== 'file-handle') {
    throw new BpError('BP_INVALID_ARGUMENT', `mechanism must be nbd or file-handle, got ${JSON.stringify(options.mechanism)}`);
  }
  for (const [device, answer] of Object.entries(options.answers ?? {})) {
    if (!['new', 'use', 'none'].includes(answer)) {
      throw new BpError('BP_PROVIDER_FAILED', `backupVmQueryIncremental answered ${JSON.stringify(answer)} for ${device}; allowed are new, use, none`, {
        details: { device, answer },
      });
    }
    if (!vm.devices.some((disk) => disk.device === device)) vm.log('warn', `ignoring the incremental answer for unknown device ${device}`);
  }
}

function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new BpError('BP_ABORTED', 'setting up the snapshot access was aborted', { cause: signal.reason });
}

/** A message for log lines. */
export function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
