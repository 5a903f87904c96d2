import { copyFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { execa } from 'execa';
import { afterEach, describe, expect, it } from 'vitest';
import type { BackupResultJson, RestoreJson, ShowJson } from '../src/index.js';
import { createQcow2, sameContent, snapshotRaw, writeRandom } from './helpers/images.js';
import { createSandbox, type BpSandbox } from './helpers/run-bp.js';

/*
 * Incremental trust, end to end through the CLI with real QEMU images: whatever hands the
 * provider a dirty bitmap that does not describe the changes since *its* last backup (a second
 * setup, a recreated storage, a disk copy, a resize), every backup restores byte-identical to the
 * disk at its time, and every full read that replaced an incremental says why.
 */

const SIZE_MIB = 24;
const sandboxes: BpSandbox[] = [];

afterEach(async () => {
  for (let sandbox = sandboxes.pop(); sandbox; sandbox = sandboxes.pop()) await sandbox.dispose();
});

async function sandbox(): Promise<BpSandbox> {
  const created = await createSandbox();
  sandboxes.push(created);
  return created;
}

interface Generation {
  bp: BpSandbox;
  result: BackupResultJson;
  reference: string;
}

let referenceCount = 0;

/** `bp backup vm 100 --mode incremental` of `disk`, with a raw copy of the disk as it was. */
async function backup(bp: BpSandbox, disk: string, extra: string[] = []): Promise<Generation> {
  const reference = join(bp.root, `reference-${referenceCount++}.raw`);
  await snapshotRaw(disk, reference);
  const result = await bp.json<BackupResultJson>(['backup', 'vm', '100', '--disk', `scsi0=${disk}`, '--mode', 'incremental', ...extra]);
  // Archive names have a resolution of one second.
  await sleep(1000);
  return { bp, result, reference };
}

/** Restores a generation and compares it with the disk as it was at its backup. */
async function restoresExactly(generation: Generation): Promise<boolean> {
  const target = join(generation.bp.root, `restore-${referenceCount++}`);
  const restore = await generation.bp.json<RestoreJson>(['restore', generation.result.volid, '--to', target, '--format', 'raw']);
  const disk = restore.disks[0]?.path ?? '';
  try {
    return await sameContent(generation.reference, disk);
  } finally {
    await rm(target, { recursive: true, force: true });
  }
}

function disk0(generation: Generation): BackupResultJson['disks'][number] {
  const disk = generation.result.disks[0];
  if (!disk) throw new Error(`backup ${generation.result.volid} reports no disk`);
  return disk;
}

/** Writes that qemu-img's bitmaps do not see: another tool wrote the disk (a lying bitmap). */
async function writeBehindTheBitmaps(image: string, offsetMiB: number): Promise<void> {
  const info = JSON.parse((await execa('qemu-img', ['info', '--output=json', image])).stdout) as { 'format-specific'?: { data?: { bitmaps?: { name: string }[] } } };
  const names = (info['format-specific']?.data?.bitmaps ?? []).map((bitmap) => bitmap.name);
  for (const name of names) await execa('qemu-img', ['bitmap', '--disable', '-f', 'qcow2', image, name]);
  await writeRandom(image, offsetMiB, 1);
  for (const name of names) await execa('qemu-img', ['bitmap', '--enable', '-f', 'qcow2', image, name]);
}

describe('incremental trust', () => {
  it('keeps two setups with the same storage ID apart on one disk', async () => {
    const first = await sandbox();
    const second = await sandbox();
    const disk = join(first.root, 'disk.qcow2');
    await createQcow2(disk, SIZE_MIB);
    await writeRandom(disk, 0, 2);
    const generations: Generation[] = [];
    generations.push(await backup(first, disk));
    generations.push(await backup(second, disk));
    for (let round = 1; round <= 1; round++) {
      await writeRandom(disk, 4 * round, 1);
      generations.push(await backup(first, disk));
      await writeRandom(disk, 4 * round + 2, 1);
      generations.push(await backup(second, disk));
    }
    // Both default to storage `local`; each keeps its own bitmap, so each stays incremental.
    await writeRandom(disk, 12, 1);
    generations.push(await backup(second, disk));
    generations.push(await backup(first, disk));
    expect(generations.map((generation) => generation.result.storage)).toEqual(Array(6).fill('local'));
    expect(generations.map((generation) => generation.result.mode)).toEqual(['full', 'full', 'incremental', 'incremental', 'incremental', 'incremental']);
    expect(disk0(generations[0]!).fullReason).toBe('first-backup');
    for (const generation of generations.slice(2)) expect(disk0(generation).bytesCopied).toBeGreaterThan(0);
    for (const generation of generations) expect(await restoresExactly(generation), generation.result.volid).toBe(true);
  }, 300_000);

  it('reads in full after the storage was recreated elsewhere, and continues the old chain when it comes back', async () => {
    const bp = await sandbox();
    const disk = join(bp.root, 'disk.qcow2');
    await createQcow2(disk, SIZE_MIB);
    await writeRandom(disk, 0, 1);
    const add = (path: string) => bp.run(['storage', 'add', 'nas', '--path', join(bp.root, path), '--vm-backup-mode', 'incremental', '--default']);
    expect((await add('nas-a')).exitCode).toBe(0);
    const a0 = await backup(bp, disk);
    await writeRandom(disk, 3, 1);
    const a1 = await backup(bp, disk);
    expect((await bp.run(['storage', 'remove', 'nas'])).exitCode).toBe(0);
    expect((await add('nas-b')).exitCode).toBe(0);
    await writeRandom(disk, 6, 1);
    const b0 = await backup(bp, disk);
    expect(b0.result.mode).toBe('full');
    expect(disk0(b0).fullReason).toBe('first-backup');
    await writeRandom(disk, 9, 1);
    const b1 = await backup(bp, disk);
    expect(b1.result.mode).toBe('incremental');
    for (const generation of [b0, b1]) expect(await restoresExactly(generation), generation.result.volid).toBe(true);
    expect((await bp.run(['storage', 'remove', 'nas'])).exitCode).toBe(0);
    expect((await add('nas-a')).exitCode).toBe(0);
    await writeRandom(disk, 12, 1);
    // nas-a's own bitmap recorded every write since its last backup: an exact incremental.
    const a2 = await backup(bp, disk);
    expect(a2.result.mode).toBe('incremental');
    for (const generation of [a0, a1, a2]) expect(await restoresExactly(generation), generation.result.volid).toBe(true);
  }, 300_000);

  it('reads in full when the disk was replaced by a copy that carries an older bitmap', async () => {
    const bp = await sandbox();
    const disk = join(bp.root, 'disk.qcow2');
    const copy = join(bp.root, 'copy.qcow2');
    await createQcow2(disk, SIZE_MIB);
    await writeRandom(disk, 0, 2);
    const g0 = await backup(bp, disk);
    await copyFile(disk, copy); // carries the bitmap as it was after g0
    await writeRandom(disk, 8, 2);
    const g1 = await backup(bp, disk);
    expect(g1.result.mode).toBe('incremental');
    await copyFile(copy, disk); // the disk goes back to its state at g0, bitmap included
    await writeRandom(disk, 16, 1);
    const g2 = await backup(bp, disk);
    expect(g2.result.mode).toBe('full');
    expect(disk0(g2)).toMatchObject({ kind: 'full', fullReason: 'bitmap-not-ours' });
    const text = await bp.run(['show', g2.result.volid]);
    expect(text.stdout).toMatch(/drive-scsi0 .*full \(bitmap-not-ours: bitmap bp:[^ ]+ has generation/);
    for (const generation of [g0, g1, g2]) expect(await restoresExactly(generation), generation.result.volid).toBe(true);
  }, 300_000);

  it('reads in full after a resize, down to an odd size', async () => {
    const bp = await sandbox();
    const disk = join(bp.root, 'disk.qcow2');
    await createQcow2(disk, SIZE_MIB);
    await writeRandom(disk, 0, 2);
    const g0 = await backup(bp, disk);
    await execa('qemu-img', ['resize', '-q', '-f', 'qcow2', disk, String(SIZE_MIB * 1024 * 1024 + 1536 * 1024)]);
    await execa('qemu-io', ['-f', 'qcow2', '-c', `write -q -P 0x5a ${SIZE_MIB * 1024 * 1024 + 1024 * 1024} 512K`, disk]);
    const g1 = await backup(bp, disk);
    expect(g1.result.mode).toBe('full');
    expect(disk0(g1).fullReason).toBe('size-changed');
    expect(g1.result.disks[0]?.detail).toMatch(/from 25165824 to 26738688 bytes/);
    await writeRandom(disk, 5, 1);
    const g2 = await backup(bp, disk);
    expect(g2.result.mode).toBe('incremental');
    for (const generation of [g0, g1, g2]) expect(await restoresExactly(generation), generation.result.volid).toBe(true);
  }, 300_000);

  it('starts a new chain at max-chain-length, or merges into a synthetic full', async () => {
    const bp = await sandbox();
    const disk = join(bp.root, 'disk.qcow2');
    await createQcow2(disk, SIZE_MIB);
    await writeRandom(disk, 0, 1);
    const add = (id: string, action: string) =>
      bp.run(['storage', 'add', id, '--path', join(bp.root, id), '--vm-backup-mode', 'incremental', '--max-chain-length', '2', '--chain-limit-action', action, '--default']);
    expect((await add('full-at-limit', 'full')).exitCode).toBe(0);
    const chain: Generation[] = [];
    for (let index = 0; index < 3; index++) {
      await writeRandom(disk, 2 + 3 * index, 1);
      chain.push(await backup(bp, disk));
    }
    expect(chain.map((generation) => generation.result.mode)).toEqual(['full', 'incremental', 'full']);
    expect(disk0(chain[2]!)).toMatchObject({ fullReason: 'chain-too-long', detail: 'the chain has 2 backups, the limit is 2' });

    expect((await add('merge-at-limit', 'merge')).exitCode).toBe(0);
    const merged: Generation[] = [];
    for (let index = 0; index < 3; index++) {
      await writeRandom(disk, 1 + 3 * index, 1);
      merged.push(await backup(bp, disk));
    }
    // The third reads only what changed, and stands alone afterwards.
    expect(merged.map((generation) => disk0(generation).kind)).toEqual(['full', 'incremental', 'full']);
    expect(disk0(merged[2]!).fullReason).toBeNull();
    expect(disk0(merged[2]!).bytesCopied).toBeLessThan(4 * 1024 * 1024);
    const show = await bp.json<ShowJson>(['show', merged[2]!.result.volid]);
    expect(show.chain).toEqual([merged[2]!.result.volid]);
    expect(show.disks[0]).toMatchObject({ kind: 'full', chainLength: 1, detail: expect.stringMatching(/synthetic full/) });
    for (const generation of [chain[2]!, merged[1]!, merged[2]!]) expect(await restoresExactly(generation), generation.result.volid).toBe(true);
    expect((await bp.json<{ ok: boolean }>(['verify'])).ok).toBe(true);
  }, 400_000);

  it('repairs a chain whose bitmap missed writes at the scheduled full read', async () => {
    const bp = await sandbox();
    const disk = join(bp.root, 'disk.qcow2');
    await createQcow2(disk, SIZE_MIB);
    await writeRandom(disk, 0, 2);
    expect((await bp.run(['storage', 'add', 'nas', '--path', join(bp.root, 'nas'), '--vm-backup-mode', 'incremental', '--full-read-every', '2', '--default'])).exitCode).toBe(0);
    const g0 = await backup(bp, disk);
    await writeBehindTheBitmaps(disk, 10);
    await writeRandom(disk, 20, 1);
    const g1 = await backup(bp, disk);
    // The hazard every bitmap-based product has: g1 misses the write nobody recorded.
    expect(g1.result.mode).toBe('incremental');
    expect(await restoresExactly(g1)).toBe(false);
    // A hole where the restore point has data: a full read must store it as zeroes, not skip it.
    await execa('qemu-io', ['-f', 'qcow2', '-c', 'discard -q 0 2M', disk]);
    const g2 = await backup(bp, disk);
    expect(disk0(g2)).toMatchObject({ kind: 'incremental', fullReason: 'scheduled-full' });
    // The missed 1 MiB and the 2 MiB hole.
    expect(disk0(g2).detail).toMatch(/^a full read every 2 backups is due; 3145728 of 25165824 bytes differed from the previous restore point and were stored$/);
    expect(await restoresExactly(g2)).toBe(true);
    expect(await restoresExactly(g0)).toBe(true);
    const verify = await bp.json<{ ok: boolean }>(['verify']);
    expect(verify.ok).toBe(true);
  }, 300_000);
});
