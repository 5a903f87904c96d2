import { chmod, mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { BackupStorage } from '@bp/api';
import type { CommandContext } from '../args/command-spec.js';
import { runGuestBackup } from '../commands/backup-job.js';
import { providerLog } from '../commands/provider-log.js';
import { hostRestoreContainer, hostRestoreVm } from '../deps/host-restore.js';
import type { DemoJson, DemoStepJson } from '../output/json-types.js';
import { compareImages } from './compare-images.js';
import { createQcow2, demoGenerations, snapshotRaw, writeRandomRegions } from './sample-disk.js';
import { createSampleTree, SAMPLE_TREE_EXCLUDED } from './sample-tree.js';
import { manifestDifferences, shiftManifest, treeManifest } from './tree-manifest.js';

/** What the demo needs to run. */
export interface DemoOptions {
  /** Opens the demo storage with config overrides (the VM backup mode per step). */
  openStorage(overrides: Record<string, unknown>): Promise<BackupStorage>;
  diskSize: number;
  keepWork: boolean;
  vmid: number;
  ctid: number;
  /**
   * Back the container up as unprivileged (owners shifted, restored with the same map: identical);
   * else privileged (PVE restores it unprivileged, so owners come back shifted by 100000).
   */
  unprivileged: boolean;
}

/** Host uid/gid of the demo container's root (PVE's default ID map 0 -> 100000). */
const CT_ID_SHIFT = 100_000;

/** Resolves once the wall clock is past the epoch second `second`. */
async function nextSecondAfter(second: number): Promise<void> {
  const wait = (second + 1) * 1000 - Date.now();
  if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait + 5));
}

interface PendingRestore {
  step: DemoStepJson;
  verify(scratch: string, signal: AbortSignal): Promise<string | undefined>;
}

/**
 * The demo: a sample qcow2 disk and a container tree, a full and two incremental VM backups with
 * writes in between, a container backup, a restore of every backup and a byte-for-byte (tree for
 * tree) comparison with the state each backup was taken from.
 */
export async function runDemo(context: CommandContext, options: DemoOptions): Promise<DemoJson> {
  const work = await mkdtemp(join(tmpdir(), 'bp-demo-'));
  // The container restore extracts as the mapped root (uid 100000), which must be able to enter it.
  await chmod(work, 0o755);
  const say = (line: string): void => context.log(line);
  const steps: DemoStepJson[] = [];
  const pending: PendingRestore[] = [];
  let storagePath = '';
  let lastStart = 0;
  let storeId = '';
  try {
    const disk = join(work, 'vm-disk.qcow2');
    say(`creating a ${Math.round(options.diskSize / 1024 / 1024)} MiB sample disk and a sample container tree in ${work}`);
    await createQcow2(disk, options.diskSize, context.signal);
    const generations = demoGenerations(options.diskSize);
    for (const [index, writes] of generations.entries()) {
      const written = await writeRandomRegions(disk, writes, work, context.signal);
      const reference = join(work, `vm-disk-gen${index}.raw`);
      await snapshotRaw(disk, reference, context.signal);
      // Incremental mode throughout: the first backup has no base and is full, and it starts the bitmap.
      const mode = 'incremental';
      const label = index === 0 ? `vm ${options.vmid} full` : `vm ${options.vmid} incremental ${index}`;
      say(`${label}: wrote ${written / 1024 / 1024} MiB of random data, backing up`);
      const storage = await options.openStorage({ 'vm-backup-mode': mode });
      // Archive names carry the start second: two backups of a guest need different seconds.
      await nextSecondAfter(lastStart);
      lastStart = Math.floor(Date.now() / 1000);
      storeId = storage.storeId;
      storagePath = String((storage.config as Record<string, unknown>).path ?? '');
      const result = await runGuestBackup(
        context,
        storage,
        { type: 'qemu', vmid: options.vmid, config: `name: demo-vm\nmemory: 512\nscsi0: ${disk},size=${options.diskSize}\n`, source: { kind: 'images', disks: [{ virtdev: 'scsi0', image: disk, format: 'qcow2' }] } },
        { values: { notes: `bp demo: ${label}` }, mode, totalBytes: options.diskSize },
      );
      const step: DemoStepJson = { backup: label, volid: result.volid, kind: `vm ${result.mode}`, bytesCopied: result.bytesCopied, durationMs: result.durationMs, throughput: result.throughput, verified: false, problem: null };
      steps.push(step);
      pending.push({
        step,
        verify: async (scratch, signal) => {
          const restored = await hostRestoreVm({ storage, volid: result.volid, targetDir: scratch, format: 'qcow2', log: providerLog(context), signal });
          const restoredDisk = restored.disks[0];
          if (!restoredDisk || restored.disks.length !== 1) return `expected one restored disk, got ${restored.disks.length}`;
          return compareImages(reference, restoredDisk.path, signal);
        },
      });
    }

    // An unprivileged container's tree as the host sees it has owners shifted by its ID map.
    const shift = options.unprivileged ? CT_ID_SHIFT : 0;
    const tree = join(work, 'ct-rootfs');
    await createSampleTree(tree, { idOffset: shift });
    const ctLabel = `ct ${options.ctid}`;
    say(`${ctLabel}: backing up the sample tree (ACLs, xattrs, hardlinks, sparse file) as ${options.unprivileged ? 'unprivileged' : 'privileged'} container`);
    const ctStorage = await options.openStorage({});
    const idmap = options.unprivileged ? ['u', 'g'].map((kind) => `lxc.idmap: ${kind} 0 ${CT_ID_SHIFT} 65536\n`).join('') : '';
    const ctResult = await runGuestBackup(
      context,
      ctStorage,
      {
        type: 'lxc',
        vmid: options.ctid,
        config: `arch: amd64\nhostname: demo-ct\nrootfs: ${tree}\n${options.unprivileged ? 'unprivileged: 1\n' : ''}${idmap}`,
        rootDirectory: tree,
        backupUserId: shift,
        excludePatterns: ['/var/cache/apt/*.bin'],
      },
      { values: { notes: `bp demo: ${ctLabel}` }, mode: String((ctStorage.config as Record<string, unknown>)['lxc-backup-mode'] ?? 'tar'), totalBytes: 0 },
    );
    const ctStep: DemoStepJson = { backup: ctLabel, volid: ctResult.volid, kind: `ct ${ctResult.mode}`, bytesCopied: ctResult.bytesCopied, durationMs: ctResult.durationMs, throughput: ctResult.throughput, verified: false, problem: null };
    steps.push(ctStep);
    pending.push({
      step: ctStep,
      verify: async (scratch, signal) => {
        // Restores are unprivileged with the backup's ID map (PVE's default for a privileged backup):
        // an unprivileged tree comes back exactly, a privileged one with owners shifted.
        const root = join(scratch, 'rootfs');
        await hostRestoreContainer({ storage: ctStorage, volid: ctResult.volid, targetDir: root, log: providerLog(context), signal });
        const original = await treeManifest(tree, { exclude: SAMPLE_TREE_EXCLUDED });
        const expected = options.unprivileged ? original : shiftManifest(original, CT_ID_SHIFT);
        const differences = manifestDifferences(expected, await treeManifest(root));
        return differences.length === 0 ? undefined : differences.slice(0, 3).join('; ');
      },
    });

    for (const [index, { step, verify }] of pending.entries()) {
      say(`restoring and verifying ${step.volid}`);
      const scratch = join(work, 'restore', String(index));
      await mkdir(scratch, { recursive: true });
      const problem = await verify(scratch, context.signal);
      step.verified = problem === undefined;
      step.problem = problem ?? null;
      await rm(scratch, { recursive: true, force: true });
    }
  } finally {
    if (!options.keepWork) await rm(work, { recursive: true, force: true });
  }
  return { storage: storeId, storagePath, workDir: work, containerIdShift: options.unprivileged ? 0 : CT_ID_SHIFT, ok: steps.length > 0 && steps.every((step) => step.verified), steps };
}
