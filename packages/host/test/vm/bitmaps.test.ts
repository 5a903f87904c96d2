import { join } from 'node:path';
import type { NbdVmVolume } from '@bp/api';
import { execa } from 'execa';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openVm, type OpenedVm, type VmDiskSpec } from '../../src/vm/index.js';
import { readFile } from 'node:fs/promises';
import { KiB, MiB, canRead, createPatternImage, dirtyExtents, expectNoLeaks, liveChildren, scratchDir, writeThrough } from './support.js';

const SIZE = 16 * MiB;
const GRANULARITY = 64 * KiB;
const BITMAP = 'snapshot-access:store1';

function nbdVolume(volume: unknown): NbdVmVolume {
  expect(volume).toMatchObject({ mechanism: 'nbd' });
  return volume as NbdVmVolume;
}

const uriOf = (volume: NbdVmVolume): string => `nbd+unix:///${volume.exportName}?socket=${volume.nbdPath}`;

describe('dirty bitmaps snapshot-access:<storeid> (offline images)', () => {
  let scratch: Awaited<ReturnType<typeof scratchDir>>;
  beforeEach(async () => {
    scratch = await scratchDir();
  });
  afterEach(async () => {
    await scratch.remove();
  });

  async function open(disk: VmDiskSpec): Promise<OpenedVm> {
    return openVm({ source: { kind: 'images', disks: [disk] }, workDir: scratch.workDir, bitmapGranularity: GRANULARITY });
  }

  /** One access with answer `use`: returns mode and dirty extents, writes `writes` through the filter, tears down with `success`. */
  async function backup(
    vm: OpenedVm,
    writes: [pattern: number, offset: number, length: number][],
    success: boolean,
  ): Promise<{ mode: string; status: string | undefined; dirty: { offset: number; length: number }[] }> {
    const access = await vm.setupAccess({ storeId: 'store1', answers: { 'drive-scsi0': 'use' }, mechanism: 'nbd' });
    try {
      const volume = nbdVolume(access.volumes['drive-scsi0']);
      expect(volume.bitmapName).toBe(BITMAP);
      const dirty = await dirtyExtents(uriOf(volume), BITMAP);
      const target = await access.writeExportFor('drive-scsi0');
      for (const [pattern, offset, length] of writes) await writeThrough(target.uri, pattern, offset, length);
      return { mode: volume.bitmapMode, status: access.bitmapStatus['drive-scsi0'], dirty };
    } finally {
      await access.teardown(success);
    }
  }

  it('reuses after success with exactly the writes since setup, and after failure with old ∪ new', async () => {
    const disk = join(scratch.dir, 'disk.qcow2');
    await createPatternImage(disk, 'qcow2', SIZE);
    const vm = await open({ virtdev: 'scsi0', image: disk, format: 'qcow2' });
    try {
      const first = await backup(vm, [[0x5a, MiB, 128 * KiB]], true);
      expect(first).toEqual({ mode: 'new', status: 'created new', dirty: [{ offset: 0, length: SIZE }] });

      const second = await backup(vm, [[0x6b, 8 * MiB, 64 * KiB]], false);
      expect(second.mode).toBe('reuse');
      expect(second.status).toBe('OK (128.00 KiB of 16.00 MiB dirty)');
      expect(second.dirty).toEqual([{ offset: MiB, length: 128 * KiB }]);

      const third = await backup(vm, [], true);
      expect(third.mode).toBe('reuse');
      expect(third.dirty).toEqual([
        { offset: MiB, length: 128 * KiB },
        { offset: 8 * MiB, length: 64 * KiB },
      ]);

      const fourth = await backup(vm, [], true);
      expect(fourth.dirty).toEqual([]);
    } finally {
      await vm.close();
    }
    await expectNoLeaks(scratch.dir, scratch.workDir);
  });

  it('makes only the dirty extents readable when a bitmap is reused', async () => {
    const disk = join(scratch.dir, 'disk.qcow2');
    await createPatternImage(disk, 'qcow2', SIZE);
    await using vm = await open({ virtdev: 'scsi0', image: disk, format: 'qcow2' });
    await backup(vm, [[0x5a, 2 * MiB, 64 * KiB]], true);
    const access = await vm.setupAccess({ storeId: 'store1', answers: { 'drive-scsi0': 'use' }, mechanism: 'nbd' });
    try {
      const uri = uriOf(nbdVolume(access.volumes['drive-scsi0']));
      expect(await canRead(uri, 2 * MiB, 64 * KiB)).toBe(true);
      expect(await canRead(uri, 0, 64 * KiB)).toBe(false);
      expect(await canRead(uri, 2 * MiB + 64 * KiB, 4 * KiB)).toBe(false);
    } finally {
      await access.teardown(true);
    }
  });

  it('drops the bitmap for none or a device left out, so the next use starts over', async () => {
    const disk = join(scratch.dir, 'disk.qcow2');
    await createPatternImage(disk, 'qcow2', SIZE);
    await using vm = await open({ virtdev: 'scsi0', image: disk, format: 'qcow2' });
    await backup(vm, [], true);
    for (const answers of [{ 'drive-scsi0': 'none' as const }, undefined]) {
      await backup(vm, [], true);
      const access = await vm.setupAccess({ storeId: 'store1', answers, mechanism: 'nbd' });
      const volume = nbdVolume(access.volumes['drive-scsi0']);
      expect(volume.bitmapMode).toBe('none');
      expect(volume.bitmapName).toBeUndefined();
      expect(access.bitmapStatus['drive-scsi0']).toBe('not used, removed existing bitmap');
      // Without a bitmap everything is readable.
      expect(await canRead(uriOf(volume), 0, SIZE)).toBe(true);
      await access.teardown(true);
      expect((await backup(vm, [], true)).mode).toBe('new');
    }
  });

  it('creates a fully dirty bitmap for a disk whose size is not a multiple of the granularity', async () => {
    const disk = join(scratch.dir, 'efi.raw');
    const size = MiB + 512;
    await execa('qemu-img', ['create', '-q', '-f', 'raw', disk, String(size)]);
    await using vm = await open({ virtdev: 'efidisk0', image: disk, format: 'raw' });
    const access = await vm.setupAccess({ storeId: 'store1', answers: { 'drive-efidisk0': 'new' }, mechanism: 'nbd' });
    const volume = nbdVolume(access.volumes['drive-efidisk0']);
    expect(volume).toMatchObject({ size, bitmapMode: 'new' });
    expect(await dirtyExtents(uriOf(volume), BITMAP)).toEqual([{ offset: 0, length: size }]);
    await access.teardown(true);
  });

  it('keeps bitmaps of storages apart', async () => {
    const disk = join(scratch.dir, 'disk.qcow2');
    await createPatternImage(disk, 'qcow2', SIZE);
    await using vm = await open({ virtdev: 'scsi0', image: disk, format: 'qcow2' });
    await backup(vm, [], true);
    const other = await vm.setupAccess({ storeId: 'store2', answers: { 'drive-scsi0': 'use' }, mechanism: 'nbd' });
    expect(nbdVolume(other.volumes['drive-scsi0'])).toMatchObject({ bitmapMode: 'new', bitmapName: 'snapshot-access:store2' });
    await other.teardown(true);
    expect((await backup(vm, [], true)).mode).toBe('reuse');
  });

  it('persists qcow2 bitmaps across daemon restarts; raw images start new', async () => {
    const qcow2 = join(scratch.dir, 'disk.qcow2');
    const raw = join(scratch.dir, 'disk.raw');
    await createPatternImage(qcow2, 'qcow2', SIZE);
    await createPatternImage(raw, 'raw', SIZE);
    for (const [image, format] of [
      [qcow2, 'qcow2'],
      [raw, 'raw'],
    ] as const) {
      const first = await open({ virtdev: 'scsi0', image, format });
      try {
        expect((await backup(first, [[0x5a, 4 * MiB, 64 * KiB]], true)).mode).toBe('new');
      } finally {
        await first.close();
      }
      const second = await open({ virtdev: 'scsi0', image, format });
      try {
        const result = await backup(second, [], true);
        if (format === 'qcow2') expect(result).toMatchObject({ mode: 'reuse', dirty: [{ offset: 4 * MiB, length: 64 * KiB }] });
        else expect(result).toMatchObject({ mode: 'new', status: 'created new', dirty: [{ offset: 0, length: SIZE }] });
      } finally {
        await second.close();
      }
    }
    const info = JSON.parse((await execa('qemu-img', ['info', '--output=json', qcow2])).stdout) as {
      'format-specific': { data: { bitmaps?: { name: string; flags: string[] }[] } };
    };
    expect(info['format-specific'].data.bitmaps).toEqual([{ name: BITMAP, flags: ['auto'], granularity: GRANULARITY }]);
    await expectNoLeaks(scratch.dir, scratch.workDir);
  });

  it('treats a bitmap stored while frozen (daemon killed mid-backup) as invalid', async () => {
    const disk = join(scratch.dir, 'disk.qcow2');
    await createPatternImage(disk, 'qcow2', SIZE);
    await execa('qemu-img', ['bitmap', '--add', '--disable', disk, BITMAP]);
    await using vm = await open({ virtdev: 'scsi0', image: disk, format: 'qcow2' });
    const result = await backup(vm, [], true);
    expect(result).toMatchObject({ mode: 'new', status: 'existing bitmap was invalid and has been cleared', dirty: [{ offset: 0, length: SIZE }] });
  });

  it('recreates a bitmap the daemon could not store (killed during a backup)', async () => {
    const disk = join(scratch.dir, 'disk.qcow2');
    await createPatternImage(disk, 'qcow2', SIZE);
    const stored = await open({ virtdev: 'scsi0', image: disk, format: 'qcow2' });
    await backup(stored, [], true);
    await stored.close();
    // Loading a stored bitmap marks it in use in the image; only a clean close clears that.
    const first = await open({ virtdev: 'scsi0', image: disk, format: 'qcow2' });
    await first.setupAccess({ storeId: 'store1', answers: { 'drive-scsi0': 'use' }, mechanism: 'nbd' });
    for (const pid of await liveChildren()) {
      if ((await readFile(`/proc/${String(pid)}/comm`, 'utf8')).startsWith('qemu-storage')) process.kill(pid, 'SIGKILL');
    }
    await expect(first.close()).rejects.toMatchObject({ code: 'BP_QEMU_FAILED' });
    await expectNoLeaks(scratch.dir, scratch.workDir);

    await using second = await open({ virtdev: 'scsi0', image: disk, format: 'qcow2' });
    const result = await backup(second, [], true);
    expect(result).toMatchObject({ mode: 'new', status: 'existing bitmap was invalid and has been cleared', dirty: [{ offset: 0, length: SIZE }] });
  });
});
