import type { BackupStorage, VmVolumes } from '@bp/api';
import { assembleVmGuestConfig, bitmapNameFor } from '@bp/host';
import { NbdClient } from '@bp/nbd';
import { runVmBackup, vmGuestConfig, VM_FIREWALL_CONFIG, type VmTestDisk } from '../driver/vm-job.js';
import type { TestDisk } from '../fixtures/disk.js';
import { runTool } from '../fixtures/tools.js';
import type { Scenario, ScenarioContext } from '../kit/scenario.js';
import {
  backupGenerations,
  backupPoint,
  backupVmOk,
  changeGeneration,
  DISK_SIZES,
  expectRestoreEquals,
  newDisk,
  offersRestoreExport,
  pointName,
  type PointInTimeBackup,
} from './vm-support.js';
import { vmTrustScenarios } from './vm-trust.js';

/** The guest config a VM of `disks` must restore with, byte for byte (map lines included). */
function expectedVmConfig(vmid: number, disks: readonly VmTestDisk[]): string {
  return assembleVmGuestConfig(vmGuestConfig(vmid, disks), { kind: 'images', disks: disks.map((disk, index) => ({ virtdev: `scsi${index}`, image: disk.image, format: disk.format ?? 'qcow2' })) });
}

const fullRoundTrip: Scenario = {
  id: 'vm.full-round-trip',
  title: 'full backup of odd-sized disks restores byte-identical, with guest and firewall config verbatim',
  kind: 'backup',
  axis: 'vmMechanism',
  vmMode: 'full',
  async run(context) {
    const storage = await context.open();
    // Three disks of different odd sizes: data in the last sector of each, an EFI-like disk
    // smaller than one bitmap chunk, and a device order a provider could mix up.
    const disks = [await newDisk(context, 'disk0'), await newDisk(context, 'efi', DISK_SIZES.efi, 2), await newDisk(context, 'disk2', DISK_SIZES.small, 4)];
    const backup = await backupPoint(context, storage, { vmid: 400, disks }, 'full');
    const restored = await expectRestoreEquals(context, storage, backup.volid, backup.expected, 'full backup');
    if (offersRestoreExport(storage)) await expectRestoreEquals(context, storage, backup.volid, backup.expected, 'full backup, read from the NBD exports of restoreVmVolumeExport', true);
    context.verify.equal(restored.config, expectedVmConfig(400, disks), `the guest config restored from ${backup.volid} is not the one backed up, verbatim (description comments, non-ASCII text, trailing spaces and #qmdump#map lines included)`);
    context.verify.equal(restored.firewallConfig, VM_FIREWALL_CONFIG, `the firewall config restored from ${backup.volid} is not the VM's firewall config, verbatim (archiveGetFirewallConfig)`);
  },
};

/** Every listed backup's parent must be an older listed backup. */
async function expectParentsOlder(context: ScenarioContext, storage: BackupStorage, vmid: number): Promise<void> {
  const listed = await storage.listVolumes({ vmid });
  for (const volume of listed) {
    if (volume.parent === undefined) continue;
    const parent = listed.find((other) => other.volid === volume.parent);
    context.verify.that(parent !== undefined && parent.ctime < volume.ctime, `listVolumes reports parent ${volume.parent} for ${volume.volid}, which is not an older listed backup`);
  }
}

/** Writes random data to the device through the access's write export, as a guest would during the backup. */
async function guestWrites(context: ScenarioContext, disk: TestDisk, access: { writeExportFor(device: string): Promise<{ uri: string }> }, device: string): Promise<void> {
  const target = await access.writeExportFor(device);
  const client = await NbdClient.connect(target.uri);
  try {
    for (const [offset, length] of [[0, 128 * 1024], [5 * 1024 * 1024, 128 * 1024], [disk.size - 128 * 1024 - 512, 128 * 1024], [disk.size - 512, 512]] as const) {
      const data = context.random.bytes(length);
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
    const first = await backupVmOk(context, storage, { vmid: 402, disks: [disk], hooks: { afterSetup: (access) => guestWrites(context, disk, access, 'drive-scsi0') } });
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
    await changeGeneration(context, disk, 1);
    // The second half, last sector included, zeroed: a provider that skips zeroes keeps old data.
    const half = Math.floor(disk.size / 2 / 512) * 512;
    await runTool('qemu-io', ['-f', 'qcow2', '-c', `write -z ${half} ${disk.size - half}`, disk.image], { what: 'zeroing the second half of the disk' });
    await disk.recordWrite(half, new Uint8Array(disk.size - half));
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
    // Every byte holds data: a provider reads (and must discard) all of it, whatever holes it may skip.
    await disk.writeRandom([{ offset: 0, length: disk.size }]);
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

const BANDWIDTH = 2 * 1024 * 1024;
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
    const size = 6 * 1024 * 1024 + 512;
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
    await changeGeneration(context, disk, 1);
    const atFailure = await disk.pointInTime(pointName(context, 'at-failure'));
    const failed = await runVmBackup(withFailingPrune(storage), { vmid: 406, disks: [disk], options: { prune: { 'keep-last': 10 } } }, context.signal);
    context.verify.that(failed.guest.status === 'error', 'the backup whose prune step failed was reported successful; the kit could not inject the failure');
    if (failed.guest.volid && (await storage.listVolumes({ vmid: 406 })).some((volume) => volume.volid === failed.guest.volid)) {
      await expectRestoreEquals(context, storage, failed.guest.volid, [atFailure], 'the backup whose prune step failed, which the provider kept');
    }
    // Other chunks than before the failure: the next incremental must not re-read those by chance.
    await changeGeneration(context, disk, 2);
    const next = await backupPoint(context, storage, { vmid: 406, disks: [disk] }, 'after-failure');
    await expectRestoreEquals(context, storage, next.volid, next.expected, 'the incremental after a failure that followed a successful backupVm (QEMU reset the bitmap, spec H1)');
  },
};

/** Restores every backup the storage lists for `vmid`; each must be one the kit made, with its content. */
async function expectEveryListedRestores(context: ScenarioContext, storage: BackupStorage, vmid: number, known: ReadonlyMap<string, PointInTimeBackup>, expectedVolids: readonly string[], after: string): Promise<void> {
  const listed = (await storage.listVolumes({ vmid })).map((volume) => volume.volid);
  context.verify.equal([...listed].sort(), [...expectedVolids].sort(), `after ${after} the storage must list exactly the backups still kept`);
  await expectParentsOlder(context, storage, vmid);
  for (const volid of listed) {
    const backup = known.get(volid)!;
    await expectRestoreEquals(context, storage, volid, backup.expected, `${volid.slice(volid.indexOf(':') + 1)}, listed after ${after}`);
  }
}

const incrementalGenerations: Scenario = {
  id: 'vm.incremental-generations',
  title: 'incremental generations of disjoint changes restore to their own point in time, also after deleting and pruning members of the chain',
  kind: 'backup',
  axis: 'vmMechanism',
  vmMode: 'incremental',
  async run(context) {
    const storage = await context.open();
    const vmid = 401;
    const disk = await newDisk(context);
    const known = new Map<string, PointInTimeBackup>();
    const generations = await backupGenerations(context, storage, vmid, disk, 4);
    for (const backup of generations) known.set(backup.volid, backup);
    const listed = await storage.listVolumes({ vmid });
    for (const { volid } of generations) context.verify.that(listed.some((volume) => volume.volid === volid), `incremental backup ${volid} is not listed`);
    await expectParentsOlder(context, storage, vmid);
    for (const [generation, { volid, expected }] of generations.entries()) {
      await expectRestoreEquals(context, storage, volid, expected, `generation ${generation}${generation === 0 ? ' (full)' : ' (incremental; an incremental on any other base than the previous generation cannot match)'}`);
    }
    if (offersRestoreExport(storage)) {
      // bp's own host reads the provider's NBD export instead of the raw file view: same bytes.
      const newest = generations.at(-1)!;
      await expectRestoreEquals(context, storage, newest.volid, newest.expected, 'the newest generation, read from the NBD export of restoreVmVolumeExport', true);
    }
    // Chain edits (when declared): every position — middle, newest, base — then backups on top.
    let kept = generations.map((backup) => backup.volid);
    let next = 4;
    const another = async (): Promise<void> => {
      const [backup] = await backupGenerations(context, storage, vmid, disk, 1, next++);
      known.set(backup!.volid, backup!);
      kept.push(backup!.volid);
    };
    if (context.supports.delete) {
      const [, middle, , newest] = generations as [PointInTimeBackup, PointInTimeBackup, PointInTimeBackup, PointInTimeBackup];
      await context.verify.succeeds(storage.freeImage(middle.volname), `freeImage(${middle.volname}) of the middle of a chain threw`);
      // The newest backup gone: QEMU's bitmap still counts from it, so the next backup must not build on the one before.
      await context.verify.succeeds(storage.freeImage(newest.volname), `freeImage(${newest.volname}) of the newest backup of a chain threw`);
      kept = kept.filter((volid) => volid !== middle.volid && volid !== newest.volid);
      await another();
      await expectEveryListedRestores(context, storage, vmid, known, kept, `deleting the middle (${middle.volname}) and the newest (${newest.volname}) backup of a chain and taking another`);
    }
    if (context.supports.prune) {
      const marks = await context.verify.succeeds(storage.pruneBackups('keep-last=2', { vmid, type: 'qemu' }), "pruneBackups('keep-last=2') of a chain threw");
      const removed = marks.filter((entry) => entry.mark === 'remove').map((entry) => entry.volid);
      context.verify.equal(removed.sort(), kept.slice(0, -2).sort(), "pruneBackups('keep-last=2') must remove exactly the older backups of the chain (its base included)");
      kept = kept.slice(-2);
      await another();
      await expectEveryListedRestores(context, storage, vmid, known, kept, "pruning a chain's base with keep-last=2 and taking another backup on top");
    }
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
  ...vmTrustScenarios,
];
