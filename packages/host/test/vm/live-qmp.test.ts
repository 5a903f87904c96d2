import { join } from 'node:path';
import type { NbdVmVolume } from '@bp/api';
import { startQemuSystem, type QemuSystem } from '@bp/nbd/qemu';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openVm, type OpenedVm } from '../../src/vm/index.js';
import { KiB, MiB, createPatternImage, dirtyExtents, expectNoLeaks, readBytes, scratchDir, withPattern } from './support.js';

const SIZE = 16 * MiB;

describe('openVm on a running QEMU (QMP)', () => {
  let scratch: Awaited<ReturnType<typeof scratchDir>>;
  let qemu: QemuSystem;
  let disk: string;
  let monitor: string;

  beforeEach(async () => {
    scratch = await scratchDir();
    disk = join(scratch.dir, 'disk.qcow2');
    monitor = join(scratch.dir, 'vm.qmp');
    await createPatternImage(disk, 'qcow2', SIZE);
    // The VM: disk0 holds the data, guest0 stands for the guest device writing through it. A
    // second QMP monitor is what bp connects to (QMP serves one client per monitor).
    qemu = await startQemuSystem({
      args: [
        '-blockdev', `driver=file,node-name=file0,filename=${disk}`,
        '-blockdev', 'driver=qcow2,node-name=disk0,file=file0',
        '-blockdev', 'driver=raw,node-name=guest0,file=disk0',
        '-chardev', `socket,id=bp-mon,path=${monitor},server=on,wait=off`,
        '-mon', 'chardev=bp-mon,mode=control',
      ],
    });
  });
  afterEach(async () => {
    await qemu.stop();
    await scratch.remove();
  });

  /** A guest write through guest0 (HMP qemu-io; its output goes to QEMU's stdout, the effect is checked on the image). */
  async function guestWrite(pattern: number, offset: number, length: number): Promise<void> {
    await qemu.qmp.execute<string>('human-monitor-command', {
      'command-line': `qemu-io guest0 "write -P ${String(pattern)} ${String(offset)} ${String(length)}"`,
    });
  }

  function open(): Promise<OpenedVm> {
    return openVm({ source: { kind: 'qmp', socketPath: monitor, disks: [{ virtdev: 'scsi0', nodeName: 'disk0' }] }, workDir: scratch.workDir, bitmapGranularity: 64 * KiB });
  }

  it('keeps the export at the point in time while the guest writes, and leaves QEMU running', async () => {
    const before = await readBytes(disk, 'qcow2', scratch.dir, true);
    const vm = await open();
    expect(vm.devices).toEqual({ 'drive-scsi0': { size: SIZE } });
    const access = await vm.setupAccess({ storeId: 'store1', answers: undefined, mechanism: 'nbd' });
    const volume = access.volumes['drive-scsi0'] as NbdVmVolume;
    expect(volume).toMatchObject({ mechanism: 'nbd', bitmapMode: 'none', exportName: 'drive-scsi0' });
    await guestWrite(0x5a, 2 * MiB, MiB);
    await guestWrite(0x6b, 12 * MiB, 2 * MiB);
    const exported = await readBytes(`nbd:unix:${volume.nbdPath}:exportname=drive-scsi0`, 'raw', scratch.dir);
    expect(exported.equals(before)).toBe(true);
    await access.teardown(true);
    await vm.close();

    const nodes = await qemu.qmp.execute<{ 'node-name': string }[]>('query-named-block-nodes', { flat: true });
    expect(nodes.map((node) => node['node-name']).sort()).toEqual(['disk0', 'file0', 'guest0']);
    expect(await qemu.qmp.execute('query-block-jobs')).toEqual([]);
    await qemu.stop();
    const after = withPattern(withPattern(before, 0x5a, 2 * MiB, MiB), 0x6b, 12 * MiB, 2 * MiB);
    expect((await readBytes(disk, 'qcow2', scratch.dir)).equals(after)).toBe(true);
    await expectNoLeaks(scratch.dir, scratch.workDir);
  });

  it('tracks guest writes in memory bitmaps across accesses (success and failure)', async () => {
    await using vm = await open();
    const setup = async () => {
      const access = await vm.setupAccess({ storeId: 'store1', answers: { 'drive-scsi0': 'use' }, mechanism: 'nbd' });
      const volume = access.volumes['drive-scsi0'] as NbdVmVolume;
      const dirty = await dirtyExtents(`nbd+unix:///drive-scsi0?socket=${volume.nbdPath}`, 'snapshot-access:store1');
      return { access, mode: volume.bitmapMode, dirty };
    };
    const first = await setup();
    expect(first).toMatchObject({ mode: 'new', dirty: [{ offset: 0, length: SIZE }] });
    await guestWrite(0x11, MiB, 64 * KiB);
    await first.access.teardown(true);
    // Written between two backups: belongs to the next one.
    await guestWrite(0x12, 3 * MiB, 64 * KiB);

    const second = await setup();
    expect(second).toMatchObject({ mode: 'reuse', dirty: [{ offset: MiB, length: 64 * KiB }, { offset: 3 * MiB, length: 64 * KiB }] });
    await guestWrite(0x13, 5 * MiB, 64 * KiB);
    await second.access.teardown(false);

    const third = await setup();
    expect(third.dirty).toEqual([
      { offset: MiB, length: 64 * KiB },
      { offset: 3 * MiB, length: 64 * KiB },
      { offset: 5 * MiB, length: 64 * KiB },
    ]);
    await third.access.teardown(true);
  });

  it('serves the file-handle mechanism from a running QEMU', async () => {
    const before = await readBytes(disk, 'qcow2', scratch.dir, true);
    await using vm = await open();
    const access = await vm.setupAccess({ storeId: 'store1', answers: undefined, mechanism: 'file-handle' });
    const volume = access.volumes['drive-scsi0'];
    if (volume?.mechanism !== 'file-handle') throw new Error('expected file-handle');
    await guestWrite(0x5a, 0, 4 * MiB);
    const buffer = Buffer.alloc(SIZE);
    for (let offset = 0; offset < SIZE; offset += MiB) await volume.fileHandle.read(buffer, offset, MiB, offset);
    expect(buffer.equals(before)).toBe(true);
    await access.teardown(true);
    await vm.close();
    await expectNoLeaks(scratch.dir, scratch.workDir, [qemu.pid]);
  });

  it('undoes a setup that fails after the bitmaps were frozen; the bitmap stays usable', async () => {
    await using vm = await open();
    const first = await vm.setupAccess({ storeId: 'store1', answers: { 'drive-scsi0': 'use' }, mechanism: 'nbd' });
    await first.teardown(true);
    await guestWrite(0x21, 2 * MiB, 64 * KiB);
    // A node already holding the name of bp's snapshot-access node makes the last step fail,
    // after the bitmap freeze and the fleecing job.
    await qemu.qmp.execute('blockdev-add', { driver: 'null-co', 'node-name': 'bp-scsi0-access', size: MiB });
    const error = await vm.setupAccess({ storeId: 'store1', answers: { 'drive-scsi0': 'use' }, mechanism: 'nbd' }).catch((caught: unknown) => caught);
    expect(error).toMatchObject({ code: 'BP_QMP_ERROR', details: { command: 'blockdev-add' } });
    await qemu.qmp.execute('blockdev-del', { 'node-name': 'bp-scsi0-access' });
    const nodes = await qemu.qmp.execute<{ 'node-name': string }[]>('query-named-block-nodes', { flat: true });
    expect(nodes.map((node) => node['node-name']).sort()).toEqual(['disk0', 'file0', 'guest0']);
    expect(await qemu.qmp.execute('query-block-jobs')).toEqual([]);

    await guestWrite(0x22, 4 * MiB, 64 * KiB);
    const access = await vm.setupAccess({ storeId: 'store1', answers: { 'drive-scsi0': 'use' }, mechanism: 'nbd' });
    const volume = access.volumes['drive-scsi0'] as NbdVmVolume;
    expect(volume.bitmapMode).toBe('reuse');
    expect(await dirtyExtents(`nbd+unix:///drive-scsi0?socket=${volume.nbdPath}`, 'snapshot-access:store1')).toEqual([
      { offset: 2 * MiB, length: 64 * KiB },
      { offset: 4 * MiB, length: 64 * KiB },
    ]);
    await access.teardown(true);
  });

  it('cleans up mounts and files when QEMU dies during the backup', async () => {
    const vm = await open();
    const access = await vm.setupAccess({ storeId: 'store1', answers: { 'drive-scsi0': 'new' }, mechanism: 'file-handle' });
    process.kill(qemu.pid, 'SIGKILL');
    await expect(access.teardown(false)).rejects.toMatchObject({ code: 'BP_QEMU_FAILED' });
    await vm.close();
    await qemu.stop();
    await expectNoLeaks(scratch.dir, scratch.workDir);
  });

  it('recovers from bitmaps left frozen by a process that died during an access', async () => {
    await qemu.qmp.execute('block-dirty-bitmap-add', { node: 'disk0', name: 'snapshot-access:store1', disabled: true });
    await qemu.qmp.execute('block-dirty-bitmap-add', { node: 'disk0', name: 'snapshot-access:store1:background' });
    await using vm = await open();
    const access = await vm.setupAccess({ storeId: 'store1', answers: { 'drive-scsi0': 'use' }, mechanism: 'nbd' });
    expect(access.volumes['drive-scsi0']?.bitmapMode).toBe('new');
    expect(access.bitmapStatus['drive-scsi0']).toBe('existing bitmap was invalid and has been cleared');
    await access.teardown(true);
  });
});
