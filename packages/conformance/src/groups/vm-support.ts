import { mkdtemp } from 'node:fs/promises';
import { randomInt } from 'node:crypto';
import { join } from 'node:path';
import type { BackupStorage } from '@bp/api';
import { restoreVm, type RestoredVm } from '@bp/host';
import { imageDifference, TestDisk } from '../fixtures/disk.js';
import { randomRegions } from '../fixtures/random.js';
import { runVmBackup, type VmBackupOutcome, type VmBackupRun } from '../driver/vm-job.js';
import type { ScenarioContext } from '../kit/scenario.js';
import { conformanceError } from '../kit/verify.js';

/** Disk size of the VM scenarios: small, so a run stays fast on a busy machine. */
export const VM_DISK_SIZE = 32 * 1024 * 1024;

/** A VM disk in the scenario's scratch directory, with `count` random 64 KiB writes. */
export async function newDisk(context: ScenarioContext, name = 'disk0', size = VM_DISK_SIZE, count = 16): Promise<TestDisk> {
  const disk = await TestDisk.create(context.scratch, name, size);
  if (count > 0) await disk.writeRandom(randomRegions(size, count, 64 * 1024));
  return disk;
}

/** PVE's bitmap granularity: dirty extents are 4 MiB aligned. */
const DIRTY_CHUNK = 4 * 1024 * 1024;

/**
 * Random writes between generations: two 64 KiB writes into each of two to four randomly chosen
 * 4 MiB chunks of one parity (even by default). Such chunks are never adjacent, so the dirty
 * bitmap always has several separate extents, and writes of the other parity never re-dirty
 * them: a provider that copies too little cannot pass by luck.
 */
export async function scatter(disk: TestDisk, parity: 'even' | 'odd' = 'even'): Promise<void> {
  const chunks = Array.from({ length: Math.floor(disk.size / DIRTY_CHUNK / 2) }, (_, index) => index * 2 + (parity === 'odd' ? 1 : 0));
  const chosen = chunks.sort(() => Math.random() - 0.5).slice(0, randomInt(2, 5));
  const regions = chosen.flatMap((chunk) => {
    const chunkSize = Math.min(DIRTY_CHUNK, disk.size - chunk * DIRTY_CHUNK);
    return randomRegions(chunkSize, 2, 64 * 1024).map((region) => ({ ...region, offset: region.offset + chunk * DIRTY_CHUNK }));
  });
  await disk.writeRandom(regions);
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

/** Restores `volid` through the host into raw images. */
export async function restoreRaw(context: ScenarioContext, storage: BackupStorage, volid: string): Promise<RestoredVm> {
  const targetDir = await mkdtemp(join(context.scratch, 'restore-'));
  try {
    return await restoreVm({ storage, volid, targetDir, format: 'raw', ...(context.signal ? { signal: context.signal } : {}) });
  } catch (error) {
    throw conformanceError(`restore of ${volid} failed`, error);
  }
}

/**
 * Restores `volid` and compares each disk with its expected content. `what` names the point in
 * time in the failure message.
 */
export async function expectRestoreEquals(context: ScenarioContext, storage: BackupStorage, volid: string, expected: readonly string[], what: string): Promise<void> {
  const restored = await restoreRaw(context, storage, volid);
  context.verify.equal(restored.disks.length, expected.length, `restore of ${volid} returned ${restored.disks.length} disks, expected ${expected.length}`);
  for (const [index, disk] of restored.disks.entries()) {
    const difference = await imageDifference(expected[index]!, disk.path);
    context.verify.that(difference === undefined, `restore of ${volid} (${what}) differs from the source at that point in time on ${disk.device}: ${difference ?? ''}`);
  }
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

/** Takes `count` backups of `disk`, with random writes before each but the first. */
export async function backupGenerations(context: ScenarioContext, storage: BackupStorage, vmid: number, disk: TestDisk, count: number): Promise<PointInTimeBackup[]> {
  const backups: PointInTimeBackup[] = [];
  for (let generation = 0; generation < count; generation++) {
    if (generation > 0) await scatter(disk);
    backups.push(await backupPoint(context, storage, { vmid, disks: [disk] }, `gen${generation}`));
  }
  return backups;
}
