// Measures the provider's own backupVm time (full and incremental) for both mechanisms against
// `qemu-img convert` of the same data, and the restore view read by `qemu-img convert`.
// Run: TSX_TSCONFIG_PATH=../host/tsconfig.sources.json npx tsx bench/backup-restore.mts
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { storageConfigSchema, type BackupProvider } from '@bp/api';
import { dirExamplePlugin } from '@bp/dir-example';
import { createDisk, runVmBackup } from '../test/support/vm-host.js';

const SIZE = 1024 * 1024 * 1024;
const DATA_MIB = 768;

/** A provider whose backupVm time is recorded. */
function timed(provider: BackupProvider, times: number[]): BackupProvider {
  return new Proxy(provider, {
    get(target, name, receiver) {
      const value = Reflect.get(target, name, receiver) as unknown;
      if (name !== 'backupVm' || typeof value !== 'function') return typeof value === 'function' ? value.bind(target) : value;
      return async (...args: unknown[]) => {
        const started = performance.now();
        await (value as (...a: unknown[]) => Promise<void>).apply(target, args);
        times.push(performance.now() - started);
      };
    },
  });
}

const seconds = (ms: number): string => `${(ms / 1000).toFixed(2)} s`;
const base = await mkdtemp(join(tmpdir(), 'bp-dir-bench-'));
try {
  for (const mechanism of ['nbd', 'file-handle'] as const) {
    const root = join(base, mechanism);
    const work = join(base, `${mechanism}-work`);
    await mkdir(root, { recursive: true });
    await mkdir(work, { recursive: true });
    const storage = dirExamplePlugin.open('store', storageConfigSchema.parse({ path: root, 'vm-backup-mode': 'incremental', 'vm-backup-mechanism': mechanism }));
    const disk = await createDisk(work, SIZE);
    await execa('bash', ['-c', `head -c ${DATA_MIB}M /dev/urandom > ${work}/rand.raw && qemu-io -f qcow2 -c "write -s ${work}/rand.raw 0 ${DATA_MIB}M" ${disk} >/dev/null && rm ${work}/rand.raw`]);
    const times: number[] = [];
    await runVmBackup({ provider: timed(storage.newBackupProvider(() => {}), times), vmid: 100, time: 1_795_000_000, disk, size: SIZE, workDir: work, mechanism });
    await execa('qemu-io', ['-f', 'qcow2', '-c', 'write -P 7 100M 64M', disk]);
    const inc = await runVmBackup({ provider: timed(storage.newBackupProvider(() => {}), times), vmid: 100, time: 1_795_000_060, disk, size: SIZE, workDir: work, mechanism });
    let started = performance.now();
    await execa('qemu-img', ['convert', '-f', 'qcow2', '-O', 'qcow2', disk, join(work, 'baseline.qcow2')]);
    const baseline = performance.now() - started;
    const provider = storage.newBackupProvider(() => {});
    const volname = `backup/${inc.archiveName}`;
    await provider.restoreVmInit(volname);
    const { qemuImgPath } = await provider.restoreVmVolumeInit(volname, 'drive-scsi0', {});
    started = performance.now();
    await execa('qemu-img', ['convert', '-f', 'raw', '-O', 'raw', qemuImgPath, join(work, 'restored.raw')]);
    const restore = performance.now() - started;
    await provider.restoreVmVolumeCleanup(volname, 'drive-scsi0', {});
    await provider.restoreVmCleanup(volname);
    console.log(
      `${mechanism.padEnd(11)} backupVm full (1 GiB disk, ${DATA_MIB} MiB data) ${seconds(times[0]!)}; incremental (64 MiB dirty) ${seconds(times[1]!)};` +
        ` qemu-img convert of the disk ${seconds(baseline)}; restore of the 2-layer chain through the raw view ${seconds(restore)}`,
    );
  }
} finally {
  await rm(base, { recursive: true, force: true });
}
