import { mkdtemp } from 'node:fs/promises';
import { join } from 'node:path';
import type { BackupStorage } from '@bp/api';
import { restoreVm, type RestoredVm } from '@bp/host';
import { imageDifference, TestDisk } from '../fixtures/disk.js';
import { randomRegions, type WriteRegion } from '../fixtures/random.js';
import { runVmBackup, type VmBackupOutcome, type VmBackupRun } from '../driver/vm-job.js';
import type { ScenarioContext } from '../kit/scenario.js';
import { conformanceError } from '../kit/verify.js';

const MiB = 1024 * 1024;

/**
 * Disk sizes of the VM scenarios, chosen to break convenient assumptions: none is a multiple of
 * 4 MiB (PVE's bitmap granularity), of the 64 KiB qcow2 cluster or of 1 MiB; the last dirty
 * chunk of the main disk is 3.5 KiB; the EFI-like disk (528 KiB, as PVE's efidisk) and the small
 * one are smaller than a single bitmap chunk.
 */
export const DISK_SIZES = { main: 24 * MiB + 7 * 512, efi: 528 * 1024, small: 3 * MiB + 512 } as const;

/** A VM disk in the scenario's scratch directory: `count` random 64 KiB writes plus its first and last sector. */
export async function newDisk(context: ScenarioContext, name = 'disk0', size: number = DISK_SIZES.main, count = 8): Promise<TestDisk> {
  const disk = await TestDisk.create(context.scratch, name, size, context.random);
  context.note(`disk ${name}`, `${size} B`);
  if (count > 0) {
    const length = Math.min(64 * 1024, size);
    await disk.writeRandom([...randomRegions(context.random, size, count, length), { offset: 0, length: 512 }, { offset: size - 512, length: 512 }]);
  }
  return disk;
}

/** PVE's bitmap granularity: dirty extents are 4 MiB aligned. */
export const DIRTY_CHUNK = 4 * MiB;

/** How many generations apart two generations may write the same chunks (see {@link changeGeneration}). */
const GENERATION_PERIOD = 3;

/**
 * The regions generation `generation` (>= 1) writes: one seeded 64 KiB write into every 4 MiB
 * chunk `c` with `c % 3 === generation % 3` (the whole chunk when it is shorter, which covers the
 * disk's last sector). Consecutive generations never share a chunk, so an incremental built on
 * any older base than its predecessor misses the predecessor's chunks and restores wrong — with
 * certainty, not by luck. Chunks of one generation are never adjacent, so the dirty bitmap has
 * several extents.
 */
export function generationRegions(context: ScenarioContext, size: number, generation: number): WriteRegion[] {
  const chunks = Math.ceil(size / DIRTY_CHUNK);
  const regions: WriteRegion[] = [];
  for (let chunk = generation % GENERATION_PERIOD; chunk < chunks; chunk += GENERATION_PERIOD) {
    const chunkSize = Math.min(DIRTY_CHUNK, size - chunk * DIRTY_CHUNK);
    const [region] = randomRegions(context.random, chunkSize, 1, Math.min(64 * 1024, chunkSize));
    regions.push({ offset: chunk * DIRTY_CHUNK + region!.offset, length: region!.length });
  }
  return regions;
}

/** Writes generation `generation`'s changes (see {@link generationRegions}) to `disk`. */
export async function changeGeneration(context: ScenarioContext, disk: TestDisk, generation: number): Promise<void> {
  await disk.writeRandom(generationRegions(context, disk.size, generation));
}

/** Runs a VM backup that must succeed; returns the outcome with its volume names. */
export async function backupVmOk(context: ScenarioContext, storage: BackupStorage, run: VmBackupRun): Promise<VmBackupOutcome & { volid: string; volname: string }> {
  const outcome = await runVmBackup(storage, run, context.signal);
  const { guest } = outcome;
  if (guest.status !== 'ok' || guest.volid === undefined) {
    throw conformanceError(`VM backup of ${run.vmid} failed: ${guest.error?.message ?? outcome.job.error?.message ?? 'unknown error'}\n${outcome.log.tail()}`);
  }
  return { ...outcome, volid: guest.volid, volname: guest.volid.slice(guest.volid.indexOf(':') + 1) };
}

/** Restores `volid` through the host into raw images (with `viaNbd`, from the provider's NBD exports). */
export async function restoreRaw(context: ScenarioContext, storage: BackupStorage, volid: string, viaNbd = false): Promise<RestoredVm> {
  const targetDir = await mkdtemp(join(context.scratch, 'restore-'));
  try {
    return await restoreVm({ storage, volid, targetDir, format: 'raw', standalone: viaNbd, ...(context.signal ? { signal: context.signal } : {}) });
  } catch (error) {
    throw conformanceError(`restore of ${volid} failed`, error);
  }
}

/**
 * Restores `volid` and compares each disk with its expected content. `what` names the point in
 * time in the failure message. Returns the restore (configs included).
 */
export async function expectRestoreEquals(context: ScenarioContext, storage: BackupStorage, volid: string, expected: readonly string[], what: string, viaNbd = false): Promise<RestoredVm> {
  const restored = await restoreRaw(context, storage, volid, viaNbd);
  context.verify.equal(restored.disks.length, expected.length, `restore of ${volid} (${what}) returned ${restored.disks.length} disks, expected ${expected.length}`);
  for (const [index, disk] of restored.disks.entries()) {
    const difference = await imageDifference(expected[index]!, disk.path);
    context.verify.that(difference === undefined, `restore of ${volid} (${what}) differs from the source at that point in time on ${disk.device}: ${difference ?? ''}`);
  }
  return restored;
}

/** True when the provider also offers its restore data as NBD exports (`restoreVmVolumeExport`, a bp extension). */
export function offersRestoreExport(storage: BackupStorage): boolean {
  return typeof storage.newBackupProvider(() => undefined).restoreVmVolumeExport === 'function';
}

/** A file name for a point-in-time copy of a disk's reference. */
export function pointName(context: ScenarioContext, label: string): string {
  return join(context.scratch, `${label}.expected.raw`);
}

/** A backup with the content its disks had when it was taken. */
export interface PointInTimeBackup {
  volid: string;
  volname: string;
  /** Raw copies of the disks' expected content, in disk order. */
  expected: string[];
}

/** Records the disks' content as of now (`label` names the copies), then backs them up. */
export async function backupPoint(context: ScenarioContext, storage: BackupStorage, run: Omit<VmBackupRun, 'disks'> & { disks: readonly TestDisk[] }, label: string): Promise<PointInTimeBackup> {
  const expected = await Promise.all(run.disks.map((disk, index) => disk.pointInTime(pointName(context, `${label}-${index}`))));
  const backup = await backupVmOk(context, storage, run);
  return { volid: backup.volid, volname: backup.volname, expected };
}

/** Takes `count` backups of `disk`: generation 0 as it is, then each after its generation's disjoint changes. */
export async function backupGenerations(context: ScenarioContext, storage: BackupStorage, vmid: number, disk: TestDisk, count: number, first = 0): Promise<PointInTimeBackup[]> {
  const backups: PointInTimeBackup[] = [];
  for (let generation = first; generation < first + count; generation++) {
    if (generation > 0) await changeGeneration(context, disk, generation);
    backups.push(await backupPoint(context, storage, { vmid, disks: [disk] }, `gen${generation}`));
  }
  return backups;
}
