import { join } from 'node:path';
import type { NbdVmVolume } from '@bp/api';
import { execa } from 'execa';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openVm, type OpenedVm } from '../../src/vm/index.js';
import { KiB, MiB, createPatternImage, dirtyExtents, expectNoLeaks, scratchDir, writeThrough } from './support.js';

const SIZE = 8 * MiB + 4 * KiB; // not a multiple of the granularity
const GRANULARITY = 64 * KiB;
const DEVICE = 'drive-scsi0';

/** Bitmap names stored in a qcow2 image. */
async function storedBitmaps(image: string): Promise<string[]> {
  const info = JSON.parse((await execa('qemu-img', ['info', '--output=json', '-U', image])).stdout) as { 'format-specific'?: { data?: { bitmaps?: { name: string }[] } } };
  return (info['format-specific']?.data?.bitmaps ?? []).map((bitmap) => bitmap.name).sort();
}

describe('bitmaps named per storage instance, a generation per successful backup', () => {
  let scratch: Awaited<ReturnType<typeof scratchDir>>;
  let disk: string;
  beforeEach(async () => {
    scratch = await scratchDir();
    disk = join(scratch.dir, 'disk.qcow2');
    await createPatternImage(disk, 'qcow2', SIZE);
  });
  afterEach(async () => {
    await scratch.remove();
  });

  const open = (): Promise<OpenedVm> => openVm({ source: { kind: 'images', disks: [{ virtdev: 'scsi0', image: disk, format: 'qcow2' }] }, workDir: scratch.workDir, bitmapGranularity: GRANULARITY });

  /** One access for `instance` with answer `use`; writes through the filter; teardown with `success`. */
  async function backup(instance: string, writes: [pattern: number, offset: number, length: number][], success: boolean) {
    const vm = await open();
    try {
      const before = (await vm.bitmapIdentities('local', instance))[DEVICE];
      const access = await vm.setupAccess({ storeId: 'local', storageInstance: instance, answers: { [DEVICE]: 'use' }, mechanism: 'nbd' });
      const volume = access.volumes[DEVICE] as NbdVmVolume;
      const dirty = await dirtyExtents(`nbd+unix:///${volume.exportName}?socket=${volume.nbdPath}`, volume.bitmapName ?? '');
      const target = await access.writeExportFor(DEVICE);
      for (const [pattern, offset, length] of writes) await writeThrough(target.uri, pattern, offset, length);
      await access.teardown(success);
      const after = (await vm.bitmapIdentities('local', instance))[DEVICE];
      return { before, after, volume, dirty };
    } finally {
      await vm.close();
    }
  }

  it('stamps a new generation on success, keeps the old one on failure, and keeps instances apart', async () => {
    const first = await backup('inst-a', [[0x11, MiB, 64 * KiB]], true);
    expect(first.before).toBeNull();
    expect(first.volume).toMatchObject({ bitmapMode: 'new', bitmapGeneration: expect.stringMatching(/^[0-9a-f]{12}$/) });
    expect(first.volume.bitmapName).toMatch(/^bp:inst-a:[0-9a-f]{12}$/);
    expect(first.volume.bitmapName).not.toBe(`bp:inst-a:${first.volume.bitmapGeneration}`);
    expect(first.after).toMatchObject({ storageInstance: 'inst-a', generation: first.volume.bitmapGeneration, granularity: GRANULARITY, dirtyBytes: 64 * KiB, usable: true });

    // Another instance with the same storage ID sees none of it and gets its own bitmap.
    const other = await backup('inst-b', [], true);
    expect(other.before).toBeNull();
    expect(other.volume.bitmapMode).toBe('new');
    expect(await storedBitmaps(disk)).toEqual([`bp:inst-a:${first.volume.bitmapGeneration}`, `bp:inst-b:${other.volume.bitmapGeneration}`]);

    // The writes made during inst-b's access were recorded by inst-a's bitmap too.
    const failed = await backup('inst-a', [[0x22, 4 * MiB, 4 * KiB]], false);
    expect(failed.before?.generation).toBe(first.volume.bitmapGeneration);
    expect(failed.volume.bitmapMode).toBe('reuse');
    expect(failed.dirty).toEqual([{ offset: MiB, length: 64 * KiB }]);
    // Failure: same generation, old ∪ new writes.
    expect(failed.after).toMatchObject({ generation: first.volume.bitmapGeneration, dirtyBytes: 128 * KiB });

    const last = await backup('inst-a', [[0x33, SIZE - 4 * KiB, 4 * KiB]], true);
    expect(last.dirty).toEqual([
      { offset: MiB, length: 64 * KiB },
      { offset: 4 * MiB, length: 64 * KiB },
    ]);
    expect(last.after?.generation).toBe(last.volume.bitmapGeneration);
    expect(last.after?.generation).not.toBe(first.volume.bitmapGeneration);
    // The write in the last, partial granule is what the bitmap holds now.
    expect(last.after?.dirtyBytes).toBe(64 * KiB);
    await expectNoLeaks(scratch.dir, scratch.workDir);
  });

  it('reports a bitmap of a copied image by the generation it carries', async () => {
    await backup('inst-a', [], true);
    const copy = join(scratch.dir, 'copy.qcow2');
    await execa('cp', [disk, copy]);
    const newer = await backup('inst-a', [], true);
    await execa('cp', [copy, disk]);
    const vm = await open();
    try {
      const identity = (await vm.bitmapIdentities('local', 'inst-a'))[DEVICE];
      expect(identity?.generation).toBeDefined();
      expect(identity?.generation).not.toBe(newer.volume.bitmapGeneration);
    } finally {
      await vm.close();
    }
  });

  it('drops stray bitmaps of the same instance and starts over', async () => {
    await execa('qemu-img', ['bitmap', '--add', '-f', 'qcow2', disk, 'bp:inst-a:aaaaaaaaaaaa']);
    await execa('qemu-img', ['bitmap', '--add', '-f', 'qcow2', disk, 'bp:inst-a:bbbbbbbbbbbb']);
    await execa('qemu-img', ['bitmap', '--add', '-f', 'qcow2', disk, 'snapshot-access:local']);
    const run = await backup('inst-a', [], true);
    expect(run.before).toBeNull();
    expect(run.volume.bitmapMode).toBe('new');
    // PVE's bitmap of the same storage ID is not bp's to touch.
    expect(await storedBitmaps(disk)).toEqual([`bp:inst-a:${run.volume.bitmapGeneration}`, 'snapshot-access:local']);
  });

  it('refuses a storage instance that cannot be part of a bitmap name', async () => {
    const vm = await open();
    try {
      await expect(vm.bitmapIdentities('local', 'a:b')).rejects.toMatchObject({ code: 'BP_INVALID_ARGUMENT' });
      await expect(vm.setupAccess({ storeId: 'local', storageInstance: '', answers: {}, mechanism: 'nbd' })).rejects.toMatchObject({ code: 'BP_INVALID_ARGUMENT' });
    } finally {
      await vm.close();
    }
  });
});
