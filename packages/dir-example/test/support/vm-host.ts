import { copyFile, mkdir, open, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { BackupProvider, BitmapMode, DiskRegion, VmVolume } from '@bp/api';
import { NbdClient } from '@bp/nbd';
import { startQemuNbd } from '@bp/nbd/qemu';
import { execa } from 'execa';

/** The bitmap name PVE uses for storage `store`. */
export const BITMAP = 'snapshot-access:store';
export const DEVICE = 'drive-scsi0';

export async function qemuImg(...args: string[]): Promise<string> {
  return (await execa('qemu-img', args)).stdout;
}

/** A test VM disk: a qcow2 with the persistent bitmap QEMU would keep for this storage. */
export async function createDisk(dir: string, size: number): Promise<string> {
  const disk = join(dir, 'disk.qcow2');
  await qemuImg('create', '-q', '-f', 'qcow2', disk, String(size));
  await qemuImg('bitmap', '--add', '-f', 'qcow2', disk, BITMAP);
  return disk;
}

/** Random-ish guest writes: `count` writes of random patterns (and some zero writes) at random offsets. */
export async function guestWrites(disk: string, size: number, count: number): Promise<void> {
  const commands: string[] = [];
  for (let index = 0; index < count; index++) {
    const length = (1 + Math.floor(Math.random() * 32)) * 4096;
    const offset = Math.floor(Math.random() * ((size - length) / 4096)) * 4096;
    commands.push('-c', index % 5 === 4 ? `write -z ${offset} ${length}` : `write -P ${1 + Math.floor(Math.random() * 254)} ${offset} ${length}`);
  }
  await execa('qemu-io', ['-f', 'qcow2', ...commands, disk]);
}

/** What the simulated host did for one VM backup. */
export interface VmBackupRun {
  archiveName: string;
  /** Raw image of the disk as of the backup start. */
  reference: string;
  answer: string | undefined;
}

async function nbdfuseMount(dir: string, uri: string): Promise<{ file: string; stop(): Promise<void> }> {
  const mountDir = join(dir, 'fuse');
  await mkdir(mountDir, { recursive: true });
  const pidFile = join(dir, 'nbdfuse.pid');
  const child = execa('nbdfuse', ['-P', pidFile, join(mountDir, DEVICE), uri], { reject: false });
  for (let tries = 0; tries < 300; tries++) {
    if (await stat(pidFile).then(() => true, () => false)) break;
    await sleep(100);
  }
  return {
    file: join(mountDir, DEVICE),
    async stop() {
      await execa('fusermount3', ['-u', mountDir], { reject: false });
      child.kill();
      await child;
    },
  };
}

async function* bitmapRegions(uri: string, size: number, mode: BitmapMode): AsyncGenerator<DiskRegion> {
  if (mode !== 'reuse') {
    yield { offset: 0, length: size };
    return;
  }
  const context = `qemu:dirty-bitmap:${BITMAP}`;
  const client = await NbdClient.connect(uri, { metaContexts: [context] });
  try {
    let offset = 0;
    while (offset < size) {
      const extents = (await client.blockStatus(offset, size - offset)).get(context) ?? [];
      for (const extent of extents) {
        if (extent.flags & 1) yield { offset: extent.offset, length: extent.length };
        offset = extent.offset + extent.length;
      }
    }
  } finally {
    await client.close();
  }
}

/** Options of {@link runVmBackup}. */
export interface RunVmBackupOptions {
  provider: BackupProvider;
  vmid: number;
  time: number;
  disk: string;
  size: number;
  workDir: string;
  mechanism: 'nbd' | 'file-handle';
  /** Fail the guest after backupVm returned (hazard H1: QEMU already reset the bitmap). */
  failAfterBackupVm?: boolean;
  guestConfig?: string;
}

/**
 * Plays PVE's part of a VM backup (spec 1.1/1.2) on an offline qcow2: a point-in-time copy of the
 * disk is the snapshot access, exported by qemu-nbd with the persistent bitmap; the bitmap is
 * cleared when backupVm returned (QEMU's teardown success) and recreated when the provider answers `new`.
 */
export async function runVmBackup(options: RunVmBackupOptions): Promise<VmBackupRun> {
  const { provider, vmid, time, disk, size, mechanism } = options;
  const runDir = join(options.workDir, `run-${time}`);
  await mkdir(runDir, { recursive: true });
  const { archiveName } = await provider.backupInit(vmid, 'qemu', time);
  const answers = await provider.backupVmQueryIncremental(vmid, { [DEVICE]: { size } });
  const answer = answers?.[DEVICE];
  let mode: BitmapMode = 'none';
  if (answer === 'use') mode = 'reuse';
  else if (answer === 'new') {
    await qemuImg('bitmap', '--remove', '-f', 'qcow2', disk, BITMAP);
    await qemuImg('bitmap', '--add', '-f', 'qcow2', disk, BITMAP);
    mode = 'new';
  }
  const snapshot = join(runDir, 'snapshot.qcow2');
  await copyFile(disk, snapshot);
  const reference = join(runDir, 'reference.raw');
  await qemuImg('convert', '-f', 'qcow2', '-O', 'raw', snapshot, reference);
  const server = await startQemuNbd({ image: snapshot, format: 'qcow2', exportName: DEVICE, bitmaps: mode === 'none' ? [] : [BITMAP], discard: 'unmap' });
  let fuse: { file: string; stop(): Promise<void> } | undefined;
  let handle: Awaited<ReturnType<typeof open>> | undefined;
  try {
    let volume: VmVolume;
    if (mechanism === 'nbd') {
      volume = { mechanism, size, bitmapMode: mode, nbdPath: server.socketPath, exportName: DEVICE, ...(mode === 'none' ? {} : { bitmapName: BITMAP }) };
    } else {
      fuse = await nbdfuseMount(runDir, server.uri);
      const fileHandle = await open(fuse.file, 'r+');
      handle = fileHandle;
      volume = {
        mechanism,
        size,
        bitmapMode: mode,
        fileHandle,
        filePath: fuse.file,
        dirtyRegions: () => bitmapRegions(server.uri, size, mode),
        discard: async () => undefined,
      };
    }
    try {
      await provider.backupVm(vmid, options.guestConfig ?? `memory: 128\n#qmdump#map:scsi0:${DEVICE}:local:qcow2:\n`, { [DEVICE]: volume }, {});
    } catch (error) {
      await provider.backupCleanup(vmid, 'qemu', false, { error: String(error) });
      throw error;
    }
  } finally {
    await handle?.close();
    await fuse?.stop();
    await server.stop();
  }
  // backupVm returned: QEMU's teardown reports success and resets the bitmap.
  if (mode !== 'none') await qemuImg('bitmap', '--clear', '-f', 'qcow2', disk, BITMAP);
  if (options.failAfterBackupVm) {
    await provider.backupCleanup(vmid, 'qemu', false, { error: 'prune failed\n' });
  } else {
    await provider.backupCleanup(vmid, 'qemu', true, {});
  }
  await rm(snapshot, { force: true });
  return { archiveName, reference, answer };
}

/** Restores one device through the provider's raw view and compares it byte for byte with `reference`. */
export async function restoreMatches(provider: BackupProvider, volname: string, reference: string): Promise<boolean> {
  const devices = await provider.restoreVmInit(volname);
  if (!devices[DEVICE]) return false;
  try {
    const { qemuImgPath } = await provider.restoreVmVolumeInit(volname, DEVICE, {});
    let same: boolean;
    try {
      // PVE reads the path as raw after an untrusted size check (spec 1.4 g).
      const info = JSON.parse(await qemuImg('info', '--output=json', '-f', 'raw', qemuImgPath)) as { 'virtual-size': number; 'backing-filename'?: string };
      same = info['virtual-size'] === devices[DEVICE].size && info['backing-filename'] === undefined && (await execa('cmp', [qemuImgPath, reference], { reject: false })).exitCode === 0;
    } finally {
      await provider.restoreVmVolumeCleanup(volname, DEVICE, {});
    }
    // The view and its daemon are gone after cleanup.
    return same && !(await stat(join(qemuImgPath, '..')).then(() => true, () => false));
  } finally {
    await provider.restoreVmCleanup(volname);
  }
}
