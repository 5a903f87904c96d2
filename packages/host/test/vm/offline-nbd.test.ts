import { existsSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { BpError } from '@bp/api';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { deviceNameFor, openVm } from '../../src/vm/index.js';
import { execa } from 'execa';
import { MiB, canRead, createPatternImage, expectNoLeaks, fleecingAllocation, readBytes, scratchDir, withPattern, writeThrough } from './support.js';

describe('openVm with offline images, mechanism nbd', () => {
  let scratch: Awaited<ReturnType<typeof scratchDir>>;
  beforeEach(async () => {
    scratch = await scratchDir();
  });
  afterEach(async () => {
    await scratch.remove();
  });

  it('names devices as PVE does', () => {
    expect(deviceNameFor('scsi0')).toBe('drive-scsi0');
    expect(deviceNameFor('efidisk0')).toBe('drive-efidisk0');
    expect(deviceNameFor('tpmstate0')).toBe('drive-tpmstate0-backup');
  });

  it('exports every disk at the point in time of setup while writes continue through the filter', async () => {
    const disk = join(scratch.dir, 'disk.qcow2');
    const efi = join(scratch.dir, 'efi.raw');
    await createPatternImage(disk, 'qcow2', 16 * MiB);
    await createPatternImage(efi, 'raw', 4 * MiB);
    const before = await readBytes(disk, 'qcow2', scratch.dir);
    const efiBefore = await readBytes(efi, 'raw', scratch.dir);

    const vm = await openVm({
      source: { kind: 'images', disks: [{ virtdev: 'scsi0', image: disk, format: 'qcow2' }, { virtdev: 'efidisk0', image: efi, format: 'raw' }] },
      workDir: scratch.workDir,
    });
    try {
      expect(vm.devices).toEqual({ 'drive-scsi0': { size: 16 * MiB }, 'drive-efidisk0': { size: 4 * MiB } });
      const access = await vm.setupAccess({ storeId: 'store1', answers: undefined, mechanism: 'nbd' });
      const volume = access.volumes['drive-scsi0'];
      expect(volume).toMatchObject({ mechanism: 'nbd', size: 16 * MiB, bitmapMode: 'none', exportName: 'drive-scsi0' });
      expect(volume && 'bitmapName' in volume ? volume.bitmapName : undefined).toBeUndefined();
      expect(access.bitmapStatus).toEqual({ 'drive-scsi0': 'not used', 'drive-efidisk0': 'not used' });
      if (volume?.mechanism !== 'nbd') throw new Error('expected an nbd volume');
      const exportUri = (device: string): string => `nbd:unix:${volume.nbdPath}:exportname=${device}`;

      // The "guest" overwrites data while the backup reads.
      const write = await access.writeExportFor('drive-scsi0');
      await writeThrough(write.uri, 0x5a, 3 * MiB, 2 * MiB);
      await writeThrough(write.uri, 0x6b, 15 * MiB, MiB);
      const after = withPattern(withPattern(before, 0x5a, 3 * MiB, 2 * MiB), 0x6b, 15 * MiB, MiB);
      expect((await readBytes(exportUri('drive-scsi0'), 'raw', scratch.dir)).equals(before)).toBe(true);
      expect((await readBytes(write.uri, 'raw', scratch.dir)).equals(after)).toBe(true);
      expect((await readBytes(exportUri('drive-efidisk0'), 'raw', scratch.dir)).equals(efiBefore)).toBe(true);

      await access.teardown(true);
      await access.teardown(true);
      expect(existsSync(volume.nbdPath)).toBe(false);
      await vm.close();
      expect((await readBytes(disk, 'qcow2', scratch.dir)).equals(after)).toBe(true);
    } finally {
      await vm.close();
    }
    await expectNoLeaks(scratch.dir, scratch.workDir);
  });

  it('passes NBD trims of the export on to the fleecing image', async () => {
    const disk = join(scratch.dir, 'disk.qcow2');
    await createPatternImage(disk, 'qcow2', 16 * MiB);
    await using vm = await openVm({ source: { kind: 'images', disks: [{ virtdev: 'scsi0', image: disk, format: 'qcow2' }] }, workDir: scratch.workDir });
    const access = await vm.setupAccess({ storeId: 'store1', answers: undefined, mechanism: 'nbd' });
    const volume = access.volumes['drive-scsi0'];
    if (volume?.mechanism !== 'nbd') throw new Error('expected an nbd volume');
    const uri = `nbd+unix:///drive-scsi0?socket=${volume.nbdPath}`;
    // 0-1 MiB holds data in the pattern image: overwriting it fills the fleecing image.
    await writeThrough((await access.writeExportFor('drive-scsi0')).uri, 0x5a, 0, MiB);
    const filled = await fleecingAllocation(scratch.workDir);
    await execa('qemu-io', ['-f', 'raw', '-c', `discard 0 ${String(MiB)}`, uri]);
    expect(await fleecingAllocation(scratch.workDir)).toBeLessThanOrEqual(filled - MiB);
    expect(await canRead(uri, 0, 4096)).toBe(false);
    expect(await canRead(uri, MiB, 4096)).toBe(true);
    await access.teardown(true);
  });

  it('undoes everything when the setup fails half-way and allows a new setup', async () => {
    const disk = join(scratch.dir, 'disk.qcow2');
    await createPatternImage(disk, 'qcow2', 8 * MiB);
    await using vm = await openVm({ source: { kind: 'images', disks: [{ virtdev: 'scsi0', image: disk, format: 'qcow2' }] }, workDir: scratch.workDir });
    const error = await vm.setupAccess({ storeId: 'store1', answers: { 'drive-scsi0': 'bogus' as 'new' }, mechanism: 'nbd' }).catch((caught: unknown) => caught);
    expect(BpError.hasCode(error, 'BP_PROVIDER_FAILED')).toBe(true);
    const bad = await vm.setupAccess({ storeId: 'bad id!', answers: undefined, mechanism: 'nbd' }).catch((caught: unknown) => caught);
    expect(BpError.hasCode(bad, 'BP_INVALID_ARGUMENT')).toBe(true);
    const [vmDir] = await readdir(scratch.workDir);
    expect(await readdir(join(scratch.workDir, vmDir ?? ''))).toEqual([]);

    const access = await vm.setupAccess({ storeId: 'store1', answers: undefined, mechanism: 'nbd' });
    const second = await vm.setupAccess({ storeId: 'store1', answers: undefined, mechanism: 'nbd' }).catch((caught: unknown) => caught);
    expect(BpError.hasCode(second, 'BP_INVALID_ARGUMENT')).toBe(true);
    await access.teardown(false);
    const again = await vm.setupAccess({ storeId: 'store1', answers: undefined, mechanism: 'nbd' });
    await again.teardown(true);
    await vm.close();
    await expectNoLeaks(scratch.dir, scratch.workDir);
  });

  it('fails with BP_QEMU_FAILED for an image that does not exist and leaves nothing behind', async () => {
    const error = await openVm({
      source: { kind: 'images', disks: [{ virtdev: 'scsi0', image: join(scratch.dir, 'missing.qcow2'), format: 'qcow2' }] },
      workDir: scratch.workDir,
    }).catch((caught: unknown) => caught);
    expect(BpError.hasCode(error, 'BP_QEMU_FAILED')).toBe(true);
    await expectNoLeaks(scratch.dir, scratch.workDir);
  });

  for (const mechanism of ['nbd', 'file-handle'] as const) {
    it(`tears down as failed and stops the daemon when the signal aborts (${mechanism})`, async () => {
      const disk = join(scratch.dir, 'disk.qcow2');
      await createPatternImage(disk, 'qcow2', 8 * MiB);
      const controller = new AbortController();
      const vm = await openVm({ source: { kind: 'images', disks: [{ virtdev: 'scsi0', image: disk, format: 'qcow2' }] }, workDir: scratch.workDir, signal: controller.signal });
      await vm.setupAccess({ storeId: 'store1', answers: { 'drive-scsi0': 'new' }, mechanism });
      controller.abort();
      await vm.close();
      await expectNoLeaks(scratch.dir, scratch.workDir);
      // The bitmap was committed as after a failed backup before the daemon stopped: still valid.
      await using reopened = await openVm({ source: { kind: 'images', disks: [{ virtdev: 'scsi0', image: disk, format: 'qcow2' }] }, workDir: scratch.workDir });
      const access = await reopened.setupAccess({ storeId: 'store1', answers: { 'drive-scsi0': 'use' }, mechanism: 'nbd' });
      expect(access.volumes['drive-scsi0']?.bitmapMode).toBe('reuse');
      await access.teardown(true);
    });
  }

  it('aborts a setup in flight with BP_ABORTED and leaves nothing behind', async () => {
    const disks = [];
    for (const virtdev of ['scsi0', 'scsi1', 'scsi2']) {
      const image = join(scratch.dir, `${virtdev}.qcow2`);
      await createPatternImage(image, 'qcow2', 4 * MiB);
      disks.push({ virtdev, image, format: 'qcow2' as const });
    }
    const controller = new AbortController();
    const vm = await openVm({ source: { kind: 'images', disks }, workDir: scratch.workDir, signal: controller.signal });
    const setup = vm.setupAccess({ storeId: 'store1', answers: undefined, mechanism: 'file-handle' });
    controller.abort();
    const error = await setup.then(
      () => undefined,
      (caught: unknown) => caught,
    );
    // Either the setup noticed the abort, or it completed and close() tore it down.
    if (error !== undefined) expect(BpError.hasCode(error, 'BP_ABORTED')).toBe(true);
    await vm.close();
    await expectNoLeaks(scratch.dir, scratch.workDir);
  });
});
