import { chmod, mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { CommandContext } from '../args/command-spec.js';
import type { DemoJson } from '../output/json-types.js';
import { backupDemoContainer } from './demo-container.js';
import { backupDemoFileVm } from './demo-files.js';
import { CT_ID_SHIFT, type DemoBackup, type DemoOptions } from './demo-step.js';
import { backupDemoVm } from './demo-vm.js';

export type { DemoOptions } from './demo-step.js';

/** Restores every backup into its own scratch directory and records the verdicts in the steps. */
async function verifyAll(context: CommandContext, backups: readonly DemoBackup[], work: string): Promise<void> {
  for (const [index, { step, verify }] of backups.entries()) {
    context.log(`restoring and verifying ${step.volid}`);
    const scratch = join(work, 'restore', String(index));
    await mkdir(scratch, { recursive: true });
    const problem = await verify(scratch, context.signal);
    step.verified = problem === undefined;
    step.problem = problem ?? null;
    await rm(scratch, { recursive: true, force: true });
  }
}

/**
 * The demo: a sample qcow2 disk and a container tree, a full and two incremental VM backups with
 * writes in between, a container backup, a VM with an ext4 disk whose single file is restored
 * without the disk, a restore of every backup and a byte-for-byte (tree for tree) comparison with
 * the state each backup was taken from.
 */
export async function runDemo(context: CommandContext, options: DemoOptions): Promise<DemoJson> {
  const work = await mkdtemp(join(tmpdir(), 'bp-demo-'));
  try {
    // The container restore extracts as the mapped root (uid 100000), which must be able to enter it.
    await chmod(work, 0o755);
    context.log(`creating a ${Math.round(options.diskSize / 1024 / 1024)} MiB sample disk and a sample container tree in ${work}`);
    const backups = [...(await backupDemoVm(context, options, work)), await backupDemoContainer(context, options, work), await backupDemoFileVm(context, options, work)];
    await verifyAll(context, backups, work);
    const storage = await options.openStorage({});
    const steps = backups.map((backup) => backup.step);
    return {
      storage: storage.storeId,
      storagePath: String((storage.config as Record<string, unknown>).path ?? ''),
      workDir: work,
      ok: steps.every((step) => step.verified),
      containerIdShift: options.unprivileged ? 0 : CT_ID_SHIFT,
      steps,
    };
  } finally {
    if (!options.keepWork) await rm(work, { recursive: true, force: true });
  }
}
