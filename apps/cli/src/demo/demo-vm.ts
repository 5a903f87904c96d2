import { join } from 'node:path';
import type { CommandContext } from '../args/command-spec.js';
import { runGuestBackup } from '../commands/backup-job.js';
import { providerLog } from '../commands/provider-log.js';
import { hostRestoreVm } from '../deps/host-restore.js';
import { compareImages } from './compare-images.js';
import { demoStep, type DemoBackup, type DemoOptions } from './demo-step.js';
import { createQcow2, demoGenerations, snapshotRaw, writeRandomRegions } from './sample-disk.js';

/**
 * The VM part: a sample qcow2 disk, then per generation random writes, a raw reference copy of
 * the disk and a backup; the first is full, the others incremental on it.
 */
export async function backupDemoVm(context: CommandContext, options: DemoOptions, work: string): Promise<DemoBackup[]> {
  const disk = join(work, 'vm-disk.qcow2');
  await createQcow2(disk, options.diskSize, context.signal);
  const backups: DemoBackup[] = [];
  for (const [index, writes] of demoGenerations(options.diskSize).entries()) {
    const written = await writeRandomRegions(disk, writes, work, context.signal);
    const reference = join(work, `vm-disk-gen${index}.raw`);
    await snapshotRaw(disk, reference, context.signal);
    const label = index === 0 ? `vm ${options.vmid} full` : `vm ${options.vmid} incremental ${index}`;
    context.log(`${label}: wrote ${written / 1024 / 1024} MiB of random data, backing up`);
    // Incremental mode throughout: the first backup has no base, is full and starts the bitmap.
    const storage = await options.openStorage({ 'vm-backup-mode': 'incremental' });
    // Back to back: runGuestBackup starts each in a new second (archive names carry it).
    const result = await runGuestBackup(
      context,
      storage,
      {
        type: 'qemu',
        vmid: options.vmid,
        config: `name: demo-vm\nmemory: 512\nscsi0: ${disk},size=${options.diskSize}\n`,
        source: { kind: 'images', disks: [{ virtdev: 'scsi0', image: disk, format: 'qcow2' }] },
      },
      { values: { notes: `bp demo: ${label}` }, mode: 'incremental', totalBytes: options.diskSize },
    );
    backups.push({
      step: demoStep(label, result),
      verify: async (scratch, signal) => {
        const restored = await hostRestoreVm({ storage, volid: result.volid, targetDir: scratch, format: 'qcow2', log: providerLog(context), signal });
        const [restoredDisk] = restored.disks;
        if (!restoredDisk || restored.disks.length !== 1) return `expected one restored disk, got ${restored.disks.length}`;
        return compareImages(reference, restoredDisk.path, signal);
      },
    });
  }
  return backups;
}
