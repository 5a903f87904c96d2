import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { BackupProvider, BackupStorage } from '@bp/api';
import { DirectJob } from '../driver/direct-job.js';
import { ProviderLog } from '../driver/provider-log.js';
import type { Scenario, ScenarioContext } from '../kit/scenario.js';
import { FIREWALL_CONFIG, logDirOf, needsGuests, restoreSmall, smallGuest } from './guests.js';
import { conformanceError } from '../kit/verify.js';

/** A fresh storage and a started job on it. */
async function startJob(context: ScenarioContext): Promise<{ storage: BackupStorage; job: DirectJob }> {
  const storage = await context.open();
  const job = new DirectJob(storage, await logDirOf(context));
  await job.start();
  return { storage, job };
}

const freshInstances: Scenario = {
  id: 'lifecycle.fresh-instances',
  title: 'every entry point works on a fresh provider instance (state lives on disk)',
  kind: 'backup',
  axis: 'none',
  requires: needsGuests,
  async run(context) {
    // backupContainer runs on a fresh instance inside DirectJob; restores use one instance per PVE entry point.
    const { storage, job } = await startJob(context);
    const guest = await smallGuest(context, 200);
    const backup = await guest.backup(job);
    await job.end();
    if (!backup.ok || !backup.volname) throw conformanceError(`backup of guest 200 failed\n${job.log.tail()}`, backup.error);
    const restored = await restoreSmall(context, storage, backup.volname);
    context.verify.equal(restored.guestConfig, guest.expectedConfig, `archiveGetGuestConfig(${backup.volname}) on a fresh instance did not return the guest config verbatim`);
    context.verify.equal(restored.firewallConfig, FIREWALL_CONFIG, `archiveGetFirewallConfig(${backup.volname}) on a fresh instance did not return the firewall config verbatim`);
  },
};

/**
 * A job in which guests fail before `backupInit` (PVE: guest locked, VMID not found): `steps`
 * makes the calls PVE then still makes; afterwards nothing may be listed.
 */
async function jobWithoutInit(context: ScenarioContext, steps: (provider: BackupProvider) => Promise<void>, what: string): Promise<void> {
  const storage = await context.open();
  const provider = storage.newBackupProvider(new ProviderLog().log);
  await context.verify.succeeds(provider.jobInit(Math.floor(Date.now() / 1000)), 'jobInit threw');
  await steps(provider);
  await context.verify.succeeds(provider.jobCleanup(), 'jobCleanup threw');
  context.verify.equal(await storage.listVolumes(), [], `${what} left a listed backup`);
}

const cleanupWithoutInit: Scenario = {
  id: 'lifecycle.cleanup-without-init',
  title: 'backupCleanup(false) without backupInit, also with vmtype undefined, is tolerated',
  kind: 'storage',
  axis: 'none',
  run: (context) =>
    jobWithoutInit(
      context,
      async (provider) => {
        await context.verify.succeeds(
          provider.backupCleanup(101, 'qemu', false, { error: 'guest is locked\n' }),
          "backupCleanup(101, 'qemu', false) without a preceding backupInit threw (PVE calls it when a guest fails before backup_init, spec 1.7)",
        );
        await context.verify.succeeds(
          provider.backupCleanup(102, undefined, false, { error: 'unable to find VM 102\n' }),
          'backupCleanup(102, undefined, false) threw; vmtype is undefined when PVE never determined the guest type (spec 1.1 step 13)',
        );
      },
      'backupCleanup(false) without backupInit',
    ),
};

const logWithoutInit: Scenario = {
  id: 'lifecycle.log-without-init',
  title: 'backupHandleLogFile without backupInit is tolerated',
  kind: 'storage',
  axis: 'none',
  run: (context) =>
    jobWithoutInit(
      context,
      async (provider) => {
        const logFile = join(await logDirOf(context), 'qemu-103.log');
        await writeFile(logFile, 'ERROR: Backup of VM 103 failed - guest is locked\n');
        await context.verify.succeeds(provider.backupCleanup(103, 'qemu', false, { error: 'guest is locked\n' }), 'backupCleanup(false) without backupInit threw');
        await context.verify.succeeds(
          provider.backupHandleLogFile(103, logFile),
          'backupHandleLogFile(103) without a preceding backupInit threw; a throw there aborts the remaining guests of the job (spec 1.7, H3)',
        );
      },
      'backupHandleLogFile without backupInit',
    ),
};

const cleanupTwice: Scenario = {
  id: 'lifecycle.cleanup-twice',
  title: 'backupCleanup(true) followed by backupCleanup(false) leaves a consistent storage',
  kind: 'backup',
  axis: 'none',
  requires: needsGuests,
  async run(context) {
    const { storage, job } = await startJob(context);
    const vmid = 204;
    const guest = await smallGuest(context, vmid);
    const result = await guest.backup(job);
    context.verify.that(result.ok, `backup of guest ${vmid} failed: ${String(result.error)}`);
    // A `backup-end` hook failing after backupCleanup(true) makes PVE call backupCleanup(false) too (spec 1.1).
    await context.verify.succeeds(
      job.provider.backupCleanup(vmid, guest.type, false, { error: 'backup-end hook failed\n' }),
      `backupCleanup(${vmid}, '${guest.type}', false) after a successful backupCleanup(true) threw (PVE calls cleanup twice when a later step dies)`,
    );
    await job.end();
    const listed = (await storage.listVolumes()).filter((volume) => volume.volid === result.volid);
    // Keeping or dropping the backup are both acceptable; a listed one must be complete.
    if (listed.length > 0) await restoreSmall(context, storage, result.volname!);
  },
};

const failedThenGood: Scenario = {
  id: 'lifecycle.failed-then-good',
  title: 'a failed guest followed by a good one in the same job',
  kind: 'backup',
  axis: 'none',
  requires: needsGuests,
  async run(context) {
    const { storage, job } = await startJob(context);
    const failed = await (await smallGuest(context, 205)).backup(job, { broken: true });
    context.verify.that(!failed.ok, 'the backup of a guest whose data does not exist succeeded; it must fail');
    const good = await (await smallGuest(context, 206)).backup(job);
    context.verify.that(good.ok, `the good guest after a failed one failed: ${String(good.error)}`);
    await job.end();
    const volids = (await storage.listVolumes()).map((volume) => volume.volid);
    context.verify.equal(volids, [good.volid], `after a failed guest (${failed.volid ?? 'no archive name'}) and a good one, the storage must list exactly the good backup`);
    await restoreSmall(context, storage, good.volname!);
  },
};

/** Call-order scenarios of spec 1.1 and 1.7. */
export const lifecycleScenarios: readonly Scenario[] = [freshInstances, cleanupWithoutInit, logWithoutInit, cleanupTwice, failedThenGood];
