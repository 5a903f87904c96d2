import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { BpError, vmBackupMechanismSchema, type BackupVmInfo, type VmDeviceSizes } from '@bp/api';
import { bandwidthLimitOf, type GuestContext } from './guest-context.js';
import { checkIncrementalAnswers } from './provider-results.js';
import type { VmGuestSpec } from './types.js';

/** PVE's bitmap granularity (`PROXMOX_BACKUP_DEFAULT_CHUNK_SIZE`). */
const PVE_GRANULARITY = 4 * 1024 * 1024;
/** bp's own: small writes dirty little, and the dir-example writes 64 KiB clusters. */
const STANDALONE_GRANULARITY = 64 * 1024;

/**
 * qemu-server's `archive_external` (spec 1.2 VM-1..VM-17): open the VM, ask for the mechanism
 * and the bitmap answers, set up the snapshot access, call `backupVm`. The teardown is
 * registered as guest cleanup with success = "backupVm returned" (hazard H1, kept on purpose:
 * a later failure still tears down with success and the provider must invalidate its chain).
 */
export async function archiveVm(ctx: GuestContext, spec: VmGuestSpec, guestConfig: string): Promise<void> {
  const { provider, log } = ctx;
  const vmid = spec.vmid;
  const runDir = join(ctx.tmpDir, 'backup-access');
  await mkdir(runDir, { mode: 0o700 });

  log.info(`starting external backup via ${await provider.providerName()}`);

  // bp as the host chooses per-instance bitmap names and a fine granularity; PVE mode copies PVE.
  const storageInstance = ctx.options.bitmaps === 'pve' ? undefined : await ctx.storage.storageInstanceId?.();
  const standalone = storageInstance !== undefined;

  ctx.phase('open');
  const opened = await ctx.vmAccess({
    source: spec.source,
    workDir: runDir,
    bitmapGranularity: ctx.options.bitmapGranularity ?? (standalone ? STANDALONE_GRANULARITY : PVE_GRANULARITY),
    log: (level, message) => log.write(level, message),
    ...(ctx.signal ? { signal: ctx.signal } : {}),
  });
  ctx.onCleanup(() => opened.close());

  const mechanism = await provider.backupGetMechanism(vmid, 'qemu');
  const vmMechanism = vmBackupMechanismSchema.safeParse(mechanism);
  if (!vmMechanism.success) {
    throw new BpError('BP_PROVIDER_FAILED', `backup provider returned unsupported mechanism '${String(mechanism)}' for VM ${vmid}; expected 'nbd' or 'file-handle'`);
  }

  ctx.phase('query-incremental');
  const identities = standalone ? await opened.bitmapIdentities?.(ctx.storage.storeId, storageInstance) : undefined;
  const devices: VmDeviceSizes = Object.fromEntries(
    Object.entries(opened.devices).map(([device, { size }]) => [device, identities ? { size, bitmap: identities[device] ?? null } : { size }]),
  );
  const answers = checkIncrementalAnswers(await provider.backupVmQueryIncremental(vmid, devices), Object.keys(devices));

  ctx.phase('setup-access');
  const access = await opened.setupAccess({
    storeId: ctx.storage.storeId,
    ...(identities && storageInstance !== undefined ? { storageInstance } : {}),
    answers,
    mechanism: vmMechanism.data,
  });
  let backupVmReturned = false;
  ctx.onCleanup(() => access.teardown(backupVmReturned));
  // The one place the status line is written (the CLI reads it back from the task log).
  for (const [device, status] of Object.entries(access.bitmapStatus)) log.info(`${device}: dirty-bitmap status: ${status}`);

  const info: BackupVmInfo = {};
  const bandwidthLimit = bandwidthLimitOf(ctx.options);
  if (bandwidthLimit !== undefined) info.bandwidthLimit = bandwidthLimit;
  if (spec.firewallConfig !== undefined) info.firewallConfig = spec.firewallConfig;
  if (ctx.signal) info.signal = ctx.signal;
  info.onProgress = ctx.onProgress;

  ctx.phase('backup-vm');
  await provider.backupVm(vmid, guestConfig, access.volumes, info);
  backupVmReturned = true;
}
