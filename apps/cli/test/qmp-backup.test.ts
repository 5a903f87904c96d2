import { access } from 'node:fs/promises';
import { join } from 'node:path';
import { execa, type ResultPromise } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BackupResultJson, RestoreJson } from '../src/index.js';
import { createQcow2, sameContent, snapshotRaw, writeRandom } from './helpers/images.js';
import { waitFor } from './helpers/processes.js';
import { createSandbox, type BpSandbox } from './helpers/run-bp.js';

let bp: BpSandbox;
let qemu: ResultPromise | undefined;
let socket: string;
let reference: string;

beforeAll(async () => {
  bp = await createSandbox();
  const disk = join(bp.root, 'running.qcow2');
  await createQcow2(disk, 32);
  await writeRandom(disk, 3, 2);
  reference = join(bp.root, 'running.raw');
  await snapshotRaw(disk, reference);
  socket = join(bp.root, 'vm.qmp');
  // A paused guest (-S): the disk is attached and locked by QEMU but nothing writes to it.
  qemu = execa('qemu-system-x86_64', [
    '-nodefaults', '-display', 'none', '-machine', 'q35,accel=tcg', '-S',
    '-qmp', `unix:${socket},server=on,wait=off`,
    '-blockdev', `driver=qcow2,node-name=fmt0,file.driver=file,file.filename=${disk}`,
    '-device', 'virtio-blk-pci,drive=fmt0,id=scsi0',
  ], { reject: false, stdin: 'ignore' });
  const ready = await waitFor(() => access(socket).then(() => true, () => false), 60_000);
  if (!ready) throw new Error('QEMU did not create its QMP socket');
});
afterAll(async () => {
  qemu?.kill('SIGTERM');
  await qemu;
  await bp?.dispose();
});

describe('VM backup of a running QEMU', () => {
  it('finds the disks in the block graph and backs them up; the restore equals the disk', async () => {
    const backup = await bp.json<BackupResultJson>(['backup', 'vm', '300', '--qmp', socket]);
    expect(backup).toMatchObject({ vmid: 300, type: 'qemu', mode: 'full' });
    expect(backup.disks.map((disk) => disk.device)).toEqual(['drive-scsi0']);
    const target = join(bp.root, 'restored');
    const restore = await bp.json<RestoreJson>(['restore', backup.volid, '--to', target]);
    expect(restore.disks.map((disk) => disk.path)).toEqual([join(target, 'scsi0.qcow2')]);
    expect(await sameContent(reference, join(target, 'scsi0.qcow2'))).toBe(true);
  });

  it('fails with BP_NOT_FOUND and a hint when nothing listens on the socket', async () => {
    const result = await bp.run(['backup', 'vm', '301', '--qmp', join(bp.root, 'missing.qmp')]);
    expect(result.exitCode).toBe(1);
    expect(result.stderr).toMatch(/BP_NOT_FOUND: cannot connect to QMP socket .*start QEMU with -qmp/);
  });
});
