import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BackupResultJson, ListJson, PruneJson, RestoreJson, ShowJson, VerifyJson } from '../src/index.js';
import { createQcow2, sameContent, snapshotRaw, writeRandom } from './helpers/images.js';
import { createSandbox, type BpSandbox } from './helpers/run-bp.js';

// One sandbox for the whole chain: full -> write -> incremental -> write -> incremental.
let bp: BpSandbox;
let disk: string;
const backups: Array<{ volid: string; reference: string }> = [];

beforeAll(async () => {
  bp = await createSandbox();
  disk = join(bp.root, 'disk.qcow2');
  await createQcow2(disk, 64);
  await writeRandom(disk, 0, 4);
  await writeRandom(disk, 40, 2);
});
afterAll(async () => {
  await bp?.dispose();
});

async function backupGeneration(mode: 'full' | 'incremental', extra: string[] = []): Promise<BackupResultJson> {
  const reference = join(bp.root, `gen${backups.length}.raw`);
  await snapshotRaw(disk, reference);
  const result = await bp.json<BackupResultJson>(['backup', 'vm', '100', '--disk', `scsi0=${disk}`, '--mode', mode, ...extra]);
  backups.push({ volid: result.volid, reference });
  return result;
}

describe('VM backups of an offline qcow2 image', () => {
  it('runs a full backup and lists it', async () => {
    // Incremental mode without a base is a full backup that starts the bitmap for the next one.
    const result = await backupGeneration('incremental', ['--notes', 'first of {{vmid}}']);
    expect(result).toMatchObject({ storage: 'local', vmid: 100, type: 'qemu', mode: 'full', notes: 'first of 100', protected: false, pruned: [] });
    expect(result.volid).toMatch(/^local:backup\//);
    // Random data was written to 6 MiB of the disk; a full backup reads at least that.
    expect(result.bytesCopied).toBeGreaterThanOrEqual(6 * 1024 * 1024);
    const list = await bp.json<ListJson>(['list']);
    expect(list.backups).toHaveLength(1);
    expect(list.backups[0]).toMatchObject({ volid: result.volid, vmid: 100, type: 'qemu', parent: null, protected: false, notes: 'first of 100' });
    const text = await bp.run(['list', '100']);
    expect(text.stdout).toMatch(/^VOLID\s+TYPE\s+TIME\s+SIZE\s+PARENT\s+PROTECTED\s+NOTES/);
    expect(text.stdout).toContain(result.volid);
  });

  it('builds an incremental chain that copies only what changed', async () => {
    await writeRandom(disk, 10, 1);
    const first = await backupGeneration('incremental');
    await writeRandom(disk, 20, 1);
    await writeRandom(disk, 0, 1);
    const second = await backupGeneration('incremental');
    expect(first.mode).toBe('incremental');
    expect(second.mode).toBe('incremental');
    // Only the written regions are dirty: at most two bitmap chunks (<= 4 MiB each) per written MiB,
    // far below the 64 MiB a full read of the disk would take.
    expect(first.bytesCopied).toBeGreaterThan(0);
    expect(first.bytesCopied).toBeLessThanOrEqual(8 * 1024 * 1024);
    expect(second.bytesCopied).toBeLessThanOrEqual(16 * 1024 * 1024);
    expect(second.disks).toEqual([expect.objectContaining({ device: 'drive-scsi0', bytesCopied: second.bytesCopied })]);
    expect(second.disks[0]?.bitmapStatus).toMatch(/^OK/);
    const list = await bp.json<ListJson>(['list', '100']);
    expect(list.backups.map((backup) => backup.parent)).toEqual([null, backups[0]?.volid, backups[1]?.volid]);
    const show = await bp.json<ShowJson>(['show', second.volid]);
    expect(show.chain).toEqual(backups.map((backup) => backup.volid));
    expect(show.disks).toEqual([{ device: 'drive-scsi0', size: 64 * 1024 * 1024, kind: 'incremental', chainLength: 3, fullReason: null, detail: null }]);
    expect(show.config).toContain('#qmdump#map:scsi0:drive-scsi0:');
    expect(show.mechanism).toBe('qemu-img');
  });

  it('restores every generation byte for byte', async () => {
    for (const [index, backup] of backups.entries()) {
      const target = join(bp.root, `restore-${index}`);
      const format = index === 1 ? 'raw' : 'qcow2';
      const restore = await bp.json<RestoreJson>(['restore', backup.volid, '--to', target, '--format', format]);
      expect(restore).toMatchObject({ volid: backup.volid, type: 'qemu', target, root: null, configPath: join(target, 'guest.conf') });
      expect(restore.disks).toEqual([{ device: 'drive-scsi0', path: join(target, `scsi0.${format}`), format, size: 64 * 1024 * 1024 }]);
      expect(await sameContent(backup.reference, join(target, `scsi0.${format}`))).toBe(true);
      // Generations differ, so comparing with another generation must fail: the check can fail.
      const other = backups[(index + 1) % backups.length];
      if (other) expect(await sameContent(other.reference, join(target, `scsi0.${format}`))).toBe(false);
    }
    const occupied = await bp.run(['restore', backups[0]?.volid ?? '', '--to', join(bp.root, 'restore-0')]);
    expect(occupied.exitCode).toBe(1);
    expect(occupied.stderr).toContain('BP_ALREADY_EXISTS');
  });

  it('verifies, annotates and protects backups', async () => {
    const verify = await bp.json<VerifyJson>(['verify']);
    expect(verify.ok).toBe(true);
    expect(verify.results.map((result) => result.volid)).toEqual(backups.map((backup) => backup.volid));
    const volid = backups[2]?.volid ?? '';
    expect((await bp.run(['notes', volid, 'before upgrade'])).exitCode).toBe(0);
    expect((await bp.run(['notes', volid])).stdout.trim()).toBe('before upgrade');
    expect((await bp.json<{ protected: boolean }>(['protect', volid])).protected).toBe(true);
    const refused = await bp.run(['delete', volid]);
    expect(refused.exitCode).toBe(1);
    expect(refused.stderr).toContain('BP_PROTECTED');
    expect((await bp.json<ListJson>(['list'])).backups.find((backup) => backup.volid === volid)?.protected).toBe(true);
  });

  it('prune --dry-run reports marks and removes nothing', async () => {
    const dryRun = await bp.json<PruneJson>(['prune', '--dry-run', '--keep-last', '1']);
    expect(dryRun.dryRun).toBe(true);
    expect(dryRun.keep).toBe('keep-last=1');
    expect(dryRun.entries).toHaveLength(3);
    expect(dryRun.entries.find((entry) => entry.volid === backups[2]?.volid)?.mark).toBe('protected');
    const text = await bp.run(['prune', '--dry-run', '--keep-last', '1']);
    expect(text.exitCode, text.stderr).toBe(0);
    expect(text.stdout).toMatch(/VOLID\s+TIME\s+MARK/);
    expect(text.stdout).toMatch(/Would remove \d of 3 backups \(keep-last=1\), dry run: nothing changed\./);
    expect((await bp.json<ListJson>(['list'])).backups).toHaveLength(3);
  });

  it('unprotects and deletes a backup', async () => {
    const volid = backups[2]?.volid ?? '';
    await bp.json(['unprotect', volid]);
    expect((await bp.json<{ deleted: boolean }>(['delete', volid])).deleted).toBe(true);
    expect((await bp.json<ListJson>(['list'])).backups.map((backup) => backup.volid)).toEqual([backups[0]?.volid, backups[1]?.volid]);
    const missing = await bp.run(['show', volid]);
    expect(missing.exitCode).toBe(1);
    expect(missing.stderr).toContain('BP_NOT_FOUND');
  });
});
