import { afterEach, describe, expect, it } from 'vitest';
import { BpError } from '@bp/api';
import { createTestStorage, type TestStorage } from './support/storage.js';
import { createDisk, guestWrites, restoreMatches, runVmBackup, type VmBackupRun } from './support/vm-host.js';

const SIZE = 64 * 1024 * 1024;
const T0 = 1_795_000_000;

describe.each(['nbd', 'file-handle'] as const)('VM backups over %s', (mechanism) => {
  let env: TestStorage | undefined;
  afterEach(async () => {
    await env?.dispose();
    env = undefined;
  });

  it('restores every generation of an incremental chain byte-identical', async () => {
    env = await createTestStorage({ 'vm-backup-mode': 'incremental', 'vm-backup-mechanism': mechanism });
    const disk = await createDisk(env.work, SIZE);
    const runs: VmBackupRun[] = [];
    for (let generation = 0; generation < 4; generation++) {
      await guestWrites(disk, SIZE, 12);
      const provider = env.storage.newBackupProvider(env.log);
      runs.push(await runVmBackup({ provider, vmid: 100, time: T0 + generation * 3600, disk, size: SIZE, workDir: env.work, mechanism }));
    }
    expect(runs.map((run) => run.answer)).toEqual(['new', 'use', 'use', 'use']);
    const volumes = await env.storage.listVolumes({ vmid: 100 });
    expect(volumes.map((volume) => volume.volid)).toEqual(runs.map((run) => `store:backup/${run.archiveName}`));
    expect(volumes[0]?.parent).toBeUndefined();
    expect(volumes[3]?.parent).toBe(volumes[2]?.volid);
    const restorer = env.storage.newBackupProvider(env.log);
    for (const run of runs) expect(await restoreMatches(restorer, `backup/${run.archiveName}`, run.reference)).toBe(true);
    // The full image of generation 0 must not hold the zero blocks the guest never wrote.
    expect(volumes[0]!.size).toBeLessThan(SIZE);
    const verified = await env.storage.verify();
    expect(verified.every((result) => result.ok)).toBe(true);
  });
});

describe('chain safety', () => {
  let env: TestStorage | undefined;
  afterEach(async () => {
    await env?.dispose();
    env = undefined;
  });

  it('invalidates the chain when the guest fails after backupVm succeeded (H1)', async () => {
    env = await createTestStorage({ 'vm-backup-mode': 'incremental', 'vm-backup-mechanism': 'nbd' });
    const disk = await createDisk(env.work, SIZE);
    await guestWrites(disk, SIZE, 8);
    const first = await runVmBackup({ provider: env.storage.newBackupProvider(env.log), vmid: 100, time: T0, disk, size: SIZE, workDir: env.work, mechanism: 'nbd' });
    await guestWrites(disk, SIZE, 8);
    const failed = await runVmBackup({ provider: env.storage.newBackupProvider(env.log), vmid: 100, time: T0 + 60, disk, size: SIZE, workDir: env.work, mechanism: 'nbd', failAfterBackupVm: true });
    expect(failed.answer).toBe('use');
    expect((await env.storage.listVolumes()).map((volume) => volume.volid)).toEqual([`store:backup/${first.archiveName}`]);
    await guestWrites(disk, SIZE, 8);
    const next = await runVmBackup({ provider: env.storage.newBackupProvider(env.log), vmid: 100, time: T0 + 120, disk, size: SIZE, workDir: env.work, mechanism: 'nbd' });
    // QEMU reset its bitmap when the failed backup's backupVm returned: only a full backup is complete.
    expect(next.answer).toBe('new');
    expect(await restoreMatches(env.storage.newBackupProvider(env.log), `backup/${next.archiveName}`, next.reference)).toBe(true);
  });

  it('keeps every remaining backup restorable when deleting and pruning inside a chain', async () => {
    env = await createTestStorage({ 'vm-backup-mode': 'incremental', 'vm-backup-mechanism': 'nbd' });
    const disk = await createDisk(env.work, SIZE);
    const runs: VmBackupRun[] = [];
    for (let generation = 0; generation < 5; generation++) {
      await guestWrites(disk, SIZE, 10);
      runs.push(await runVmBackup({ provider: env.storage.newBackupProvider(env.log), vmid: 100, time: T0 + generation * 86_400, disk, size: SIZE, workDir: env.work, mechanism: 'nbd' }));
    }
    const volname = (run: VmBackupRun): string => `backup/${run.archiveName}`;
    await env.storage.updateVolumeAttribute(volname(runs[1]!), 'protected', true);
    await expect(env.storage.freeImage(volname(runs[1]!))).rejects.toSatisfy((error) => BpError.hasCode(error, 'BP_PROTECTED'));
    await env.storage.updateVolumeAttribute(volname(runs[1]!), 'protected', false);

    await env.storage.freeImage(volname(runs[1]!));
    const dry = await env.storage.pruneBackups('keep-last=2', { vmid: 100, dryRun: true });
    expect(dry.filter((entry) => entry.mark === 'remove').map((entry) => entry.volid)).toEqual([`store:backup/${runs[0]!.archiveName}`, `store:backup/${runs[2]!.archiveName}`]);
    expect(dry.find((entry) => entry.volid.endsWith(runs[2]!.archiveName))?.note).toContain(runs[3]!.archiveName);
    expect((await env.storage.listVolumes()).length).toBe(4);

    await env.storage.pruneBackups('keep-last=2', { vmid: 100, log: env.log });
    const left = await env.storage.listVolumes({ vmid: 100 });
    expect(left.map((volume) => volume.volid)).toEqual([runs[3]!, runs[4]!].map((run) => `store:backup/${run.archiveName}`));
    expect(left[0]?.parent).toBeUndefined();
    const restorer = env.storage.newBackupProvider(env.log);
    for (const run of [runs[3]!, runs[4]!]) expect(await restoreMatches(restorer, volname(run), run.reference)).toBe(true);
    expect((await env.storage.verify()).every((result) => result.ok)).toBe(true);

    // The chain goes on from the newest backup.
    await guestWrites(disk, SIZE, 10);
    const after = await runVmBackup({ provider: env.storage.newBackupProvider(env.log), vmid: 100, time: T0 + 10 * 86_400, disk, size: SIZE, workDir: env.work, mechanism: 'nbd' });
    expect(after.answer).toBe('use');
    expect(await restoreMatches(restorer, volname(after), after.reference)).toBe(true);
  });
});
