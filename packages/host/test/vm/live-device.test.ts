import { join } from 'node:path';
import type { NbdVmVolume } from '@bp/api';
import { startQemuSystem, type QemuSystem } from '@bp/nbd/qemu';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openVm, type OpenedVm } from '../../src/vm/index.js';
import { KiB, MiB, canRead, createPatternImage, dirtyExtents, expectNoLeaks, readBytes, scratchDir, withPattern } from './support.js';

const SIZE = 16 * MiB;

// A VM with a real guest device (virtio-blk on q35), kept in prelaunch (-S): no guest code runs,
// but the device's block backend is what a guest writes through.
describe('openVm on a running QEMU with a guest device', () => {
  let scratch: Awaited<ReturnType<typeof scratchDir>>;
  let qemu: QemuSystem;
  let disk: string;
  let monitor: string;

  beforeEach(async () => {
    scratch = await scratchDir();
    disk = join(scratch.dir, 'disk.qcow2');
    monitor = join(scratch.dir, 'vm.qmp');
    await createPatternImage(disk, 'qcow2', SIZE);
    qemu = await startQemuSystem({
      args: [
        '-machine', 'q35', '-m', '64', '-S',
        '-blockdev', `driver=file,node-name=file0,filename=${disk}`,
        '-blockdev', 'driver=qcow2,node-name=disk0,file=file0',
        '-device', 'virtio-blk-pci,id=virtio0,drive=disk0',
        '-chardev', `socket,id=bp-mon,path=${monitor},server=on,wait=off`,
        '-mon', 'chardev=bp-mon,mode=control',
      ],
    });
  });
  afterEach(async () => {
    await qemu.stop();
    await scratch.remove();
  });

  /** A write through the guest device's block backend (HMP qemu-io -d on the virtio backend, which holds the block backend). */
  async function guestWrite(pattern: number, offset: number, length: number): Promise<void> {
    await qemu.qmp.execute('human-monitor-command', {
      'command-line': `qemu-io -d virtio0/virtio-backend "write -P ${String(pattern)} ${String(offset)} ${String(length)}"`,
    });
  }

  function open(guestDevice = 'virtio0'): Promise<OpenedVm> {
    return openVm({
      source: { kind: 'qmp', socketPath: monitor, disks: [{ virtdev: 'virtio0', nodeName: 'disk0', guestDevice }] },
      workDir: scratch.workDir,
      bitmapGranularity: 64 * KiB,
    });
  }

  it('moves the device onto the filter: point in time, reads limited to dirty extents, device restored', async () => {
    const before = await readBytes(disk, 'qcow2', scratch.dir, true);
    const vm = await open();
    const first = await vm.setupAccess({ storeId: 'store1', answers: { 'drive-virtio0': 'use' }, mechanism: 'nbd' });
    const firstVolume = first.volumes['drive-virtio0'] as NbdVmVolume;
    expect(firstVolume.bitmapMode).toBe('new');
    await guestWrite(0x5a, 2 * MiB, 64 * KiB);
    const exported = await readBytes(`nbd:unix:${firstVolume.nbdPath}:exportname=drive-virtio0`, 'raw', scratch.dir);
    expect(exported.equals(before)).toBe(true);
    await first.teardown(true);

    const second = await vm.setupAccess({ storeId: 'store1', answers: { 'drive-virtio0': 'use' }, mechanism: 'nbd' });
    const volume = second.volumes['drive-virtio0'] as NbdVmVolume;
    const uri = `nbd+unix:///drive-virtio0?socket=${volume.nbdPath}`;
    expect(volume.bitmapMode).toBe('reuse');
    expect(await dirtyExtents(uri, 'snapshot-access:store1')).toEqual([{ offset: 2 * MiB, length: 64 * KiB }]);
    expect(await canRead(uri, 2 * MiB, 64 * KiB)).toBe(true);
    expect(await canRead(uri, 0, 4096)).toBe(false);
    await second.teardown(true);
    await vm.close();

    expect(await qemu.qmp.execute('qom-get', { path: '/machine/peripheral/virtio0', property: 'drive' })).toBe('disk0');
    const nodes = await qemu.qmp.execute<{ 'node-name': string }[]>('query-named-block-nodes', { flat: true });
    expect(nodes.map((node) => node['node-name']).sort()).toEqual(['disk0', 'file0']);
    await guestWrite(0x6b, 8 * MiB, MiB);
    await qemu.stop();
    const after = withPattern(withPattern(before, 0x5a, 2 * MiB, 64 * KiB), 0x6b, 8 * MiB, MiB);
    expect((await readBytes(disk, 'qcow2', scratch.dir)).equals(after)).toBe(true);
    await expectNoLeaks(scratch.dir, scratch.workDir);
  });

  it('pauses a running guest only for the switch and resumes it', async () => {
    await qemu.qmp.execute('cont');
    await using vm = await open();
    const access = await vm.setupAccess({ storeId: 'store1', answers: undefined, mechanism: 'nbd' });
    expect(await qemu.qmp.execute('query-status')).toMatchObject({ running: true });
    expect(await qemu.qmp.execute('qom-get', { path: '/machine/peripheral/virtio0', property: 'drive' })).toBe('bp-virtio0-cbw');
    await access.teardown(true);
    expect(await qemu.qmp.execute('query-status')).toMatchObject({ running: true });
    expect(await qemu.qmp.execute('qom-get', { path: '/machine/peripheral/virtio0', property: 'drive' })).toBe('disk0');
  });

  it('refuses an unknown guest device with BP_NOT_FOUND', async () => {
    await expect(open('nosuchdevice')).rejects.toMatchObject({ code: 'BP_NOT_FOUND' });
    await expectNoLeaks(scratch.dir, scratch.workDir, [qemu.pid]);
  });
});
