import { copyFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { BackupStorage } from '@bp/api';
import type { TestDisk } from '../fixtures/disk.js';
import type { Scenario, ScenarioContext } from '../kit/scenario.js';
import { backupPoint, changeGeneration, expectRestoreEquals, newDisk, type PointInTimeBackup } from './vm-support.js';

/*
 * Incremental trust: whatever hands the provider a dirty bitmap that does not describe the
 * changes since its own last backup, every backup must restore exactly (an exact incremental or
 * a full read). These run with bp's standalone bitmaps (named per storage instance, a generation
 * per backup, reported to the provider before it answers), which needs `storageInstanceId`.
 */

/** Job options of these scenarios: bp's own bitmap naming. */
const STANDALONE = { bitmaps: 'standalone' } as const;

async function standaloneStorage(context: ScenarioContext): Promise<BackupStorage> {
  const storage = await context.open();
  if (typeof storage.storageInstanceId !== 'function') {
    context.notApplicable('the storage has no storageInstanceId(), so bp cannot tell its bitmaps from another storage\'s; PVE-named bitmaps are covered by the other VM scenarios');
  }
  return storage;
}

function backup(context: ScenarioContext, storage: BackupStorage, vmid: number, disk: TestDisk, label: string): Promise<PointInTimeBackup> {
  return backupPoint(context, storage, { vmid, disks: [disk], options: STANDALONE }, label);
}

const secondStorage: Scenario = {
  id: 'vm.bitmap-second-storage',
  title: 'two storages with the same storage ID backing up one disk in turn each restore exactly',
  kind: 'backup',
  axis: 'vmMechanism',
  vmMode: 'incremental',
  async run(context) {
    const first = await standaloneStorage(context);
    const second = await context.open();
    const disk = await newDisk(context);
    const backups: PointInTimeBackup[] = [];
    backups.push(await backup(context, first, 440, disk, 'first-0'));
    backups.push(await backup(context, second, 440, disk, 'second-0'));
    await changeGeneration(context, disk, 1);
    backups.push(await backup(context, first, 440, disk, 'first-1'));
    await changeGeneration(context, disk, 2);
    backups.push(await backup(context, second, 440, disk, 'second-1'));
    for (const [index, point] of backups.entries()) {
      await expectRestoreEquals(context, index % 2 === 0 ? first : second, point.volid, point.expected, `backup ${index} of two storages sharing storage ID ${first.storeId} on one disk`);
    }
  },
};

const staleCopy: Scenario = {
  id: 'vm.bitmap-stale-copy',
  title: 'a disk replaced by a copy carrying an older bitmap gives an exact backup',
  kind: 'backup',
  axis: 'vmMechanism',
  vmMode: 'incremental',
  async run(context) {
    const storage = await standaloneStorage(context);
    const disk = await newDisk(context);
    await backup(context, storage, 441, disk, 'g0');
    const image = join(context.scratch, 'stale.qcow2');
    const reference = join(context.scratch, 'stale.reference.raw');
    await copyFile(disk.image, image);
    await copyFile(disk.reference, reference);
    await changeGeneration(context, disk, 1);
    await backup(context, storage, 441, disk, 'g1');
    // The disk goes back to its state at g0, with the bitmap it had then.
    await copyFile(image, disk.image);
    await copyFile(reference, disk.reference);
    await Promise.all([rm(image), rm(reference)]);
    await changeGeneration(context, disk, 2);
    const after = await backup(context, storage, 441, disk, 'g2');
    await expectRestoreEquals(
      context,
      storage,
      after.volid,
      after.expected,
      'the backup after the disk was replaced by an older copy of itself (its bitmap has a generation the provider did not record: answer new, or build on the matching base)',
    );
  },
};

const resized: Scenario = {
  id: 'vm.disk-resized',
  title: 'a disk grown to an odd size and then shrunk between backups restores exactly',
  kind: 'backup',
  axis: 'vmMechanism',
  vmMode: 'incremental',
  async run(context) {
    const storage = await standaloneStorage(context);
    const disk = await newDisk(context);
    await backup(context, storage, 442, disk, 'g0');
    for (const [label, size] of [['grown', disk.size + 1536 * 1024], ['shrunk', disk.size - 3 * 1024 * 1024]] as const) {
      await disk.resize(size);
      await disk.writeRandom([{ offset: size - 64 * 1024, length: 64 * 1024 }]);
      const point = await backup(context, storage, 442, disk, label);
      await expectRestoreEquals(context, storage, point.volid, point.expected, `the backup after the disk was ${label} to ${size} bytes`);
    }
  },
};

const baseDeleted: Scenario = {
  id: 'vm.base-deleted',
  title: 'a base removed behind the provider\'s back gives an exact backup, not a broken chain',
  kind: 'backup',
  axis: 'vmMechanism',
  vmMode: 'incremental',
  async run(context) {
    const storage = await standaloneStorage(context);
    const disk = await newDisk(context);
    await backup(context, storage, 443, disk, 'g0');
    await changeGeneration(context, disk, 1);
    const base = await backup(context, storage, 443, disk, 'g1');
    // What an admin's `rm -r` does: the provider is not asked.
    const { path } = await storage.path(base.volname);
    await rm(path, { recursive: true, force: true });
    await changeGeneration(context, disk, 2);
    const after = await backup(context, storage, 443, disk, 'g2');
    await expectRestoreEquals(context, storage, after.volid, after.expected, `the backup after its base ${base.volid} was removed behind the provider's back`);
  },
};

/** Scenarios of incremental trust, in the VM group. */
export const vmTrustScenarios: readonly Scenario[] = [secondStorage, staleCopy, resized, baseDeleted];
