import { randomBytes } from 'node:crypto';
import type { BackupStorage, VmVolumes } from '@bp/api';
import { bitmapNameFor } from '@bp/host';
import { NbdClient } from '@bp/nbd';
import { runVmBackup } from '../driver/vm-job.js';
import type { TestDisk } from '../fixtures/disk.js';
import { runTool } from '../fixtures/tools.js';
import type { Scenario } from '../kit/scenario.js';
import { vmTrustScenarios } from './vm-trust.js';
import { backupGenerations, backupPoint, backupVmOk, expectRestoreEquals, newDisk, pointName, scatter, type PointInTimeBackup } from './vm-support.js';

const fullRoundTrip: Scenario = {
  id: 'vm.full-round-trip',
  title: 'full backup restores byte-identical, with the guest config verbatim',
  kind: 'backup',
  axis: 'vmMechanism',
  vmMode: 'full',
  async run(context) {
    const storage = await context.open();
    const disks = [await newDisk(context, 'disk0'), await newDisk(context, 'disk1', 16 * 1024 * 1024, 6)];
    const backup = await backupPoint(context, storage, { vmid: 400, disks }, 'full');
    await expectRestoreEquals(context, storage, backup.volid, backup.expected, 'full backup');
    const config = await storage.newBackupProvider(() => {}).archiveGetGuestConfig(backup.volname);
    context.verify.that(config.includes('name: conformance-vm-400\n') && config.includes('#qmdump#map:scsi1:drive-scsi1:'), `archiveGetGuestConfig(${backup.volname}) did not return the guest config (with its #qmdump#map lines) verbatim`);
  },
};

const incrementalGenerations: Scenario = {
  id: 'vm.incremental-generations',
  title: 'three incremental generations each restore to their own point in time',
  kind: 'backup',
  axis: 'vmMechanism',
  vmMode: 'incremental',
  async run(context) {
    const storage = await context.open();
    const disk = await newDisk(context);
    const backups = await backupGenerations(context, storage, 401, disk, 4);
    const listed = await storage.listVolumes({ vmid: 401 });
    for (const { volid } of backups) context.verify.that(listed.some((volume) => volume.volid === volid), `incremental backup ${volid} is not listed`);
    for (const volume of listed) {
      if (volume.parent === undefined) continue;
      const parent = listed.find((other) => other.volid === volume.parent);
      context.verify.that(parent !== undefined && parent.ctime <= volume.ctime, `listVolumes reports parent ${volume.parent} for ${volume.volid}, which is not an older listed backup`);
    }
    for (const [generation, { volid, expected }] of backups.entries()) {
      await expectRestoreEquals(context, storage, volid, expected, `generation ${generation}${generation === 0 ? ' (full)' : ' (incremental)'}`);
    }
  },
};

/** Writes random data to the device through the access's write export, as a guest would during the backup. */
async function guestWrites(disk: TestDisk, access: { writeExportFor(device: string): Promise<{ uri: string }> }, device: string): Promise<void> {
  const target = await access.writeExportFor(device);
  const client = await NbdClient.connect(target.uri);
  try {
    for (const offset of [0, 5 * 1024 * 1024, disk.size - 128 * 1024]) {
      const data = randomBytes(128 * 1024);
      await client.write(offset, data);
      await disk.recordWrite(offset, data);
    }
    await client.flush();
  } finally {
    await client.close();
  }
}

const writesDuringBackup: Scenario = {
  id: 'vm.writes-during-backup',
  title: 'guest writes during the backup do not leak into it and reach the next one',
  kind: 'backup',
  axis: 'vmMechanism',
  async run(context) {
    const incremental = context.supports.incremental;
    const storage = await context.open({ ...context.variant, vmMode: incremental ? 'incremental' : 'full' });
    const disk = await newDisk(context);
    const before = await disk.pointInTime(pointName(context, 'before-writes'));
    const first = await backupVmOk(context, storage, { vmid: 402, disks: [disk], hooks: { afterSetup: (access) => guestWrites(disk, access, 'drive-scsi0') } });
    await expectRestoreEquals(context, storage, first.volid, [before], 'the backup start, before the guest writes during the backup');
    const second = await backupPoint(context, storage, { vmid: 402, disks: [disk] }, 'after-writes');
    await expectRestoreEquals(context, storage, second.volid, second.expected, `the next ${incremental ? 'incremental ' : ''}backup, which must contain the writes made during the previous one`);
  },
};

const bitmapLost: Scenario = {
  id: 'vm.bitmap-lost',
  title: "bitmap 'new' after QEMU lost it gives a correct full backup",
  kind: 'backup',
  axis: 'vmMechanism',
  vmMode: 'incremental',
  async run(context) {
    const storage = await context.open();
    const disk = await newDisk(context);
    await backupVmOk(context, storage, { vmid: 403, disks: [disk] });
    // The VM restarted: its bitmap is gone. Data changed meanwhile, including a region zeroed out.
    await runTool('qemu-img', ['bitmap', '--remove', disk.image, bitmapNameFor(storage.storeId)], { what: 'removing the dirty bitmap' });
    await scatter(disk);
    await runTool('qemu-io', ['-f', 'qcow2', '-c', `write -z 0 ${disk.size / 2}`, disk.image], { what: 'zeroing half of the disk' });
    await disk.recordWrite(0, new Uint8Array(disk.size / 2));
    const backup = await backupPoint(context, storage, { vmid: 403, disks: [disk] }, 'after-loss');
    await expectRestoreEquals(context, storage, backup.volid, backup.expected, "the backup after the bitmap was lost (bitmapMode 'new' means everything is dirty: a full backup)");
  },
};

/** Records discards of file-handle volumes. */
function recordDiscards(volumes: VmVolumes, discarded: Map<string, number>): VmVolumes {
  return Object.fromEntries(
    Object.entries(volumes).map(([device, volume]) => {
      if (volume.mechanism !== 'file-handle') return [device, volume];
      const wrapped = Object.create(volume) as typeof volume;
      wrapped.discard = async (offset: number, length: number) => {
        await volume.discard(offset, length);
        discarded.set(device, (discarded.get(device) ?? 0) + length);
      };
      wrapped.dirtyRegions = () => volume.dirtyRegions();
      return [device, wrapped];
    }),
  );
}

/** Bytes of the nbd export that can still be read (discarded regions of a snapshot access cannot). */
async function readableBytes(uri: string, size: number): Promise<number> {
  const client = await NbdClient.connect(uri);
  let readable = 0;
  try {
    for (let offset = 0; offset < size; offset += 1024 * 1024) {
      await client.read(offset, 4096).then(
        () => (readable += 1024 * 1024),
        () => {},
      );
    }
  } finally {
    await client.close().catch(() => {});
  }
  return readable;
}

const discardAfterRead: Scenario = {
  id: 'vm.discard-after-read',
  title: 'the provider discards what it stored on the source (discard after read)',
  kind: 'backup',
  axis: 'vmMechanism',
  vmMode: 'full',
  async run(context) {
    const storage = await context.open();
    const disk = await newDisk(context);
    const discarded = new Map<string, number>();
    let stillReadable: number | undefined;
    await backupVmOk(context, storage, {
      vmid: 404,
      disks: [disk],
      hooks: {
        wrapVolumes: (volumes) => recordDiscards(volumes, discarded),
        beforeTeardown: async (access) => {
          const volume = access.volumes['drive-scsi0'];
          if (volume?.mechanism === 'nbd') stillReadable = await readableBytes(`nbd+unix:///${volume.exportName}?socket=${volume.nbdPath}`, volume.size);
        },
      },
    });
    if (context.variant.vmMechanism === 'file-handle') {
      const bytes = discarded.get('drive-scsi0') ?? 0;
      context.verify.that(bytes >= disk.size / 2, `the provider discarded ${bytes} of ${disk.size} bytes of drive-scsi0 through volume.discard(); it must discard what it stored (discard after read, spec 1.2.1)`);
    } else {
      context.verify.that(stillReadable !== undefined && stillReadable <= disk.size / 2, `after backupVm ${stillReadable ?? '?'} of ${disk.size} bytes of the drive-scsi0 export are still readable; the provider must NBD-trim what it stored (discard after read, spec 1.2.1)`);
    }
  },
};

const BANDWIDTH = 4 * 1024 * 1024;
/** A limiter may let a short burst through at the start (token bucket); this much is allowed. */
const BURST_ALLOWANCE_MS = 500;

const bandwidthLimit: Scenario = {
  id: 'vm.bandwidth-limit',
  title: 'the bandwidth limit is not exceeded by more than 10 %',
  kind: 'backup',
  axis: 'vmMechanism',
  vmMode: 'full',
  async run(context) {
    const storage = await context.open();
    const size = 24 * 1024 * 1024;
    const disk = await newDisk(context, 'disk0', size, 0);
    await disk.writeRandom([{ offset: 0, length: size }]);
    const backup = await backupVmOk(context, storage, { vmid: 405, disks: [disk], options: { bwlimitKiB: BANDWIDTH / 1024 } });
    // Only the lower bound on time is checked: load can slow a backup down, never speed it up.
    const minimumMs = ((size / BANDWIDTH) * 1000 - BURST_ALLOWANCE_MS) / 1.1;
    const took = backup.backupVmMs ?? 0;
    context.verify.that(
      took >= minimumMs,
      `backupVm copied ${size} bytes in ${took} ms with a bandwidth limit of ${BANDWIDTH} B/s; at most 10 % above the limit (after a ${BURST_ALLOWANCE_MS} ms burst) means at least ${Math.round(minimumMs)} ms`,
    );
  },
};

/** Makes `pruneBackups` throw, as a failing retention step after backupVm does in PVE. */
function withFailingPrune(storage: BackupStorage): BackupStorage {
  return new Proxy(storage, {
    get(target, property, receiver) {
      if (property === 'pruneBackups') return async () => Promise.reject(new Error('prune failed (injected by the conformance kit)'));
      const value: unknown = Reflect.get(target, property, receiver);
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
    },
  });
}

const failureAfterBackupVm: Scenario = {
  id: 'vm.h1-failure-after-backup-vm',
  title: 'H1: a failure after backupVm does not corrupt the next incremental',
  kind: 'backup',
  axis: 'vmMechanism',
  vmMode: 'incremental',
  async run(context) {
    const storage = await context.open();
    const disk = await newDisk(context);
    await backupVmOk(context, storage, { vmid: 406, disks: [disk] });
    await scatter(disk);
    const atFailure = await disk.pointInTime(pointName(context, 'at-failure'));
    const failed = await runVmBackup(withFailingPrune(storage), { vmid: 406, disks: [disk], options: { prune: { 'keep-last': 10 } } }, context.signal);
    context.verify.that(failed.guest.status === 'error', 'the backup whose prune step failed was reported successful; the kit could not inject the failure');
    if (failed.guest.volid && (await storage.listVolumes({ vmid: 406 })).some((volume) => volume.volid === failed.guest.volid)) {
      await expectRestoreEquals(context, storage, failed.guest.volid, [atFailure], 'the backup whose prune step failed, which the provider kept');
    }
    // Other chunks than before the failure: the next incremental must not re-read those by chance.
    await scatter(disk, 'odd');
    const next = await backupPoint(context, storage, { vmid: 406, disks: [disk] }, 'after-failure');
    await expectRestoreEquals(context, storage, next.volid, next.expected, 'the incremental after a failure that followed a successful backupVm (QEMU reset the bitmap, spec H1)');
  },
};

const deleteInChain: Scenario = {
  id: 'vm.delete-in-chain',
  title: 'deleting backups of an incremental chain keeps the rest restorable',
  kind: 'backup',
  axis: 'vmMechanism',
  vmMode: 'incremental',
  requires: (supports) => (supports.delete ? undefined : 'the provider does not declare delete'),
  async run(context) {
    const storage = await context.open();
    const disk = await newDisk(context);
    const [base, middle, last] = (await backupGenerations(context, storage, 407, disk, 3)) as [PointInTimeBackup, PointInTimeBackup, PointInTimeBackup];
    await context.verify.succeeds(storage.freeImage(middle.volname), `freeImage(${middle.volname}) of the middle of a chain threw`);
    await expectRestoreEquals(context, storage, last.volid, last.expected, 'the newest backup after its parent was deleted');
    await expectRestoreEquals(context, storage, base.volid, base.expected, 'the base after a child was deleted');
    await context.verify.succeeds(storage.freeImage(base.volname), `freeImage(${base.volname}) of the chain's base threw`);
    await expectRestoreEquals(context, storage, last.volid, last.expected, 'the newest backup after the base was deleted too');
    const volids = (await storage.listVolumes({ vmid: 407 })).map((volume) => volume.volid);
    context.verify.equal(volids, [last.volid], 'after deleting two of three backups the storage must list exactly the remaining one');
    // The next backup builds on what is left (or is full); either way it restores to its point in time.
    await scatter(disk);
    const next = await backupPoint(context, storage, { vmid: 407, disks: [disk] }, 'after-deletes');
    await expectRestoreEquals(context, storage, next.volid, next.expected, 'the backup taken after deleting older members of its chain');
  },
};

/** VM data scenarios (real QEMU through @bp/host). */
export const vmScenarios: readonly Scenario[] = [
  fullRoundTrip,
  incrementalGenerations,
  writesDuringBackup,
  bitmapLost,
  discardAfterRead,
  bandwidthLimit,
  failureAfterBackupVm,
  deleteInChain,
  ...vmTrustScenarios,
];
