import { copyFile, open, readdir, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { BackupStorage, StorageSupports } from '@bp/api';
import { hasQcow2Magic } from '@bp/nbd/qcow2';
import { runVmBackup } from '../driver/vm-job.js';
import { imageDifference } from '../fixtures/disk.js';
import { FaultyDisk } from '../fixtures/faulty-disk.js';
import { randomData } from '../fixtures/random.js';
import { runTool } from '../fixtures/tools.js';
import type { Scenario, ScenarioContext } from '../kit/scenario.js';
import { conformanceError } from '../kit/verify.js';
import { backupVmOk, expectRestoreEquals, newDisk, pointName, restoreRaw } from './vm-support.js';

const needsVm = (supports: StorageSupports): string | undefined => (supports.vmMechanisms.length === 0 ? 'the provider declares no VM mechanism' : undefined);

/** qcow2 images (by magic) below `dir`. */
async function qcow2Files(dir: string): Promise<string[]> {
  const found: string[] = [];
  const entries = await readdir(dir, { withFileTypes: true, recursive: true }).catch(() => []);
  for (const entry of entries) {
    if (!entry.isFile()) continue;
    const path = join(entry.parentPath, entry.name);
    const handle = await open(path, 'r');
    const magic = Buffer.alloc(4);
    const { bytesRead } = await handle.read(magic, 0, 4, 0);
    await handle.close();
    if (hasQcow2Magic(magic.subarray(0, bytesRead))) found.push(path);
  }
  return found;
}

async function virtualSize(image: string): Promise<number> {
  const info = JSON.parse(await runTool('qemu-img', ['info', '--output=json', '-U', image], { what: 'reading the size of a stored image' })) as { 'virtual-size': number };
  return info['virtual-size'];
}

/** Replaces `image` with a hostile one, runs `check`, then puts the original back. */
async function withHostileImage(context: ScenarioContext, image: string, create: (path: string, size: number) => Promise<void>, check: () => Promise<void>): Promise<void> {
  const original = join(context.scratch, 'original.qcow2');
  const size = await virtualSize(image);
  await copyFile(image, original);
  const hostile = `${image}.hostile`;
  await create(hostile, size);
  await rename(hostile, image);
  try {
    await check();
  } finally {
    await rename(original, image);
  }
}

async function expectRestoreRefused(context: ScenarioContext, storage: BackupStorage, volid: string, what: string): Promise<void> {
  let restored;
  try {
    restored = await restoreRaw(context, storage, volid);
  } catch {
    return;
  }
  throw conformanceError(`restore of ${volid} accepted ${what}; restores must validate stored images (backing files inside the guest directory, no data-file) and refuse (${restored.disks.length} disks restored)`);
}

const hostileRestoreInputs: Scenario = {
  id: 'safety.hostile-restore-inputs',
  title: 'restore refuses stored images with a backing file outside the guest directory or a data-file',
  kind: 'backup',
  axis: 'none',
  requires: needsVm,
  async run(context) {
    const storage = await context.open({ vmMechanism: context.supports.vmMechanisms[0]!, vmMode: 'full' });
    const disk = await newDisk(context);
    const expected = await disk.pointInTime(pointName(context, 'hostile'));
    const backup = await backupVmOk(context, storage, { vmid: 600, disks: [disk] });
    const { path } = await storage.path(backup.volname);
    const images = await qcow2Files(path);
    if (images.length === 0) context.notApplicable(`the backup under storage.path() (${path}) holds no qcow2 image to tamper with`);
    const image = images[0]!;
    const secret = join(context.scratch, 'host-secret.raw');
    await writeFile(secret, randomData(disk.size));
    await withHostileImage(
      context,
      image,
      (hostile, size) => runTool('qemu-img', ['create', '-q', '-f', 'qcow2', '-b', secret, '-F', 'raw', hostile, String(size)], { what: 'creating an image with an outside backing file' }).then(() => {}),
      () => expectRestoreRefused(context, storage, backup.volid, `a stored qcow2 whose backing file is ${secret}, outside the guest directory`),
    );
    const dataFile = join(context.scratch, 'host-data-file.raw');
    await writeFile(dataFile, randomData(disk.size));
    await withHostileImage(
      context,
      image,
      (hostile, size) => runTool('qemu-img', ['create', '-q', '-f', 'qcow2', '-o', `data_file=${dataFile},data_file_raw=on`, hostile, String(size)], { what: 'creating an image with a data-file' }).then(() => {}),
      () => expectRestoreRefused(context, storage, backup.volid, `a stored qcow2 with an external data-file (${dataFile})`),
    );
    await expectRestoreEquals(context, storage, backup.volid, [expected], 'the untampered backup after the hostile ones were refused');
  },
};

const sourceReadFault: Scenario = {
  id: 'safety.source-read-fault',
  title: 'source reads failing mid-copy fail the backup, list nothing partial, and the next backup is correct',
  kind: 'backup',
  axis: 'vmMechanism',
  vmMode: 'full',
  async run(context) {
    const storage = await context.open();
    await using faulty = await FaultyDisk.create(context.scratch, 16 * 1024 * 1024, context.random);
    context.note('faulty disk', `${faulty.size} B, reads from ${faulty.size / 2} on fail`);
    const source = { vmid: 601, disks: [{ image: faulty.image, size: faulty.size, format: 'raw' as const }] };
    const failed = await runVmBackup(storage, { ...source, hooks: { afterSetup: () => faulty.startFailing() } }, context.signal);
    await faulty.stopFailing();
    if (!failed.reachedBackupVm) throw conformanceError(`the backup with failing source reads failed before backupVm, so the kit could not inject the fault: ${failed.guest.error?.message ?? ''}`);
    context.verify.that(failed.guest.status === 'error', 'the backup succeeded although reads of the source export failed (injected EIO); read errors must fail backupVm');
    const listed = await storage.listVolumes({ vmid: 601 });
    context.verify.equal(listed, [], `after a backup that failed on source read errors the storage lists ${listed.map((v) => v.volid).join(', ')}; nothing partial may be listed`);
    const next = await backupVmOk(context, storage, source);
    const restored = await restoreRaw(context, storage, next.volid);
    const difference = await imageDifference(faulty.content, restored.disks[0]!.path);
    context.verify.that(difference === undefined, `the backup after a failed one does not restore to the source: ${difference ?? ''}`);
  },
};

/** Volume names that try to leave the storage or name something that is no backup. */
const HOSTILE_VOLNAMES = [
  'backup/../../../../etc/passwd',
  'backup/100/../../../../etc',
  'backup/100/qemu-2024-03-15T12:00:00Z/../../../..',
  '/etc/passwd',
  'backup/100/qemu-2024-03-15T12:00:00Z\u0000.conf',
  'images/100/vm-100-disk-0.qcow2',
  'backup/100/',
  'backup/-1/qemu-2024-03-15T12:00:00Z',
];

const hostileVolnames: Scenario = {
  id: 'safety.hostile-volnames',
  title: 'volume names that leave the storage or name no backup are refused by parseVolname, path and the restore entry points',
  kind: 'storage',
  axis: 'none',
  async run(context) {
    const storage = await context.open();
    const provider = storage.newBackupProvider(() => {});
    for (const volname of HOSTILE_VOLNAMES) {
      const shown = JSON.stringify(volname);
      await context.verify.fails(async () => storage.parseVolname(volname), `parseVolname(${shown}) accepted a volume name that is not a backup of this storage; it must throw BP_INVALID_VOLUME_ID`);
      await context.verify.fails(() => storage.path(volname), `path(${shown}) returned a path for a volume name that is not a backup of this storage`);
      await context.verify.fails(() => provider.archiveGetGuestConfig(volname), `archiveGetGuestConfig(${shown}) read a guest config through a volume name that is not a backup of this storage`);
      await context.verify.fails(() => provider.restoreGetMechanism(volname), `restoreGetMechanism(${shown}) answered for a volume name that is not a backup of this storage`);
    }
  },
};

/** Hostile restore inputs, hostile volume names and source read faults. */
export const restoreSafetyScenarios: readonly Scenario[] = [hostileRestoreInputs, hostileVolnames, sourceReadFault];
