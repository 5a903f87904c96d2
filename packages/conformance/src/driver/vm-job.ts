import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { BackupStorage, VmVolumes } from '@bp/api';
import { openVm, runBackupJob, type BackupJobOptions, type GuestResult, type JobResult, type SnapshotAccess, type VmAccessOpener } from '@bp/host';
import { BackupSecondGate } from './backup-second-gate.js';
import { ProviderLog } from './provider-log.js';

/** Points where a VM scenario looks at or acts on the snapshot access. */
export interface VmAccessHooks {
  /** Right after the snapshot access exists, before `backupVm` (e.g. guest writes during the backup). */
  afterSetup?(access: SnapshotAccess): Promise<void>;
  /** Replaces what `backupVm` receives (e.g. to record discards). */
  wrapVolumes?(volumes: VmVolumes): VmVolumes;
  /** Before the host tears the access down, with the teardown's `success`. */
  beforeTeardown?(access: SnapshotAccess, success: boolean): Promise<void>;
}

/** A disk image of the VM under test. */
export interface VmTestDisk {
  image: string;
  size: number;
  /** Default qcow2. */
  format?: 'qcow2' | 'raw';
}

/** One VM backup through the host. */
export interface VmBackupRun {
  vmid: number;
  /** Disks in virtdev order: `scsi0`, `scsi1`, ... */
  disks: readonly VmTestDisk[];
  options?: BackupJobOptions;
  hooks?: VmAccessHooks;
  /** The firewall config handed over (default {@link VM_FIREWALL_CONFIG}). */
  firewallConfig?: string;
}

/** The outcome: the guest's result, the job's, the provider's log and how long `backupVm` took. */
export interface VmBackupOutcome {
  guest: GuestResult;
  job: JobResult;
  log: ProviderLog;
  backupVmMs: number | undefined;
  /** Whether the job got as far as calling `backupVm`. */
  reachedBackupVm: boolean;
}

/**
 * The VM config the kit backs up (the host appends the `#qmdump#map` lines). Its description
 * (`#` lines) has non-ASCII text, a trailing space and an empty comment line, so anything but a
 * verbatim copy shows.
 */
export function vmGuestConfig(vmid: number, disks: readonly VmTestDisk[]): string {
  const drives = disks.map((disk, index) => `scsi${index}: local:vm-${vmid}-disk-${index},size=${disk.size % 1024 === 0 ? `${disk.size / 1024}K` : disk.size}`);
  return [`#Konformität — VM ${vmid}: «test» `, '#', '#%3A encoded: 100%25', `name: conformance-vm-${vmid}`, 'memory: 512', 'ostype: l26', ...drives, ''].join('\n');
}

/** The firewall config of the kit's VMs: rules, an ipset and a trailing comment without a final newline. */
export const VM_FIREWALL_CONFIG = '[OPTIONS]\nenable: 1\npolicy_in: DROP\n\n[IPSET trusted] # Vertrauenswürdig\n10.0.0.0/8\n\n[RULES]\nIN ACCEPT -p tcp -dport 22 # ssh \n#last line, no newline';

function hookedOpener(hooks: VmAccessHooks): VmAccessOpener {
  return async (options) => {
    const opened = await openVm(options);
    return {
      devices: opened.devices,
      bitmapIdentities: (storeId, storageInstance) => opened.bitmapIdentities(storeId, storageInstance),
      close: () => opened.close(),
      setupAccess: async (setup) => {
        const access = await opened.setupAccess(setup);
        await hooks.afterSetup?.(access);
        return {
          volumes: hooks.wrapVolumes ? hooks.wrapVolumes(access.volumes) : access.volumes,
          bitmapStatus: access.bitmapStatus,
          teardown: async (success: boolean) => {
            try {
              await hooks.beforeTeardown?.(access, success);
            } finally {
              await access.teardown(success);
            }
          },
        };
      },
    };
  };
}

const backupSeconds = new BackupSecondGate();

/** Runs a one-guest backup job for a VM made of `run.disks` (offline qcow2 images) through the host. */
export async function runVmBackup(storage: BackupStorage, run: VmBackupRun, signal?: AbortSignal): Promise<VmBackupOutcome> {
  const log = new ProviderLog();
  const key = `${storage.storeId}/${run.vmid}`;
  await backupSeconds.before(key);
  // The kit's own log directory, removed again: the provider keeps its copy (backupHandleLogFile).
  const logDir = await mkdtemp(join(tmpdir(), 'bp-cf-logs-'));
  let backupVmStart: number | undefined;
  let backupVmMs: number | undefined;
  const job = await runBackupJob({
    storage,
    guests: [
      {
        type: 'qemu',
        vmid: run.vmid,
        config: vmGuestConfig(run.vmid, run.disks),
        source: { kind: 'images', disks: run.disks.map((disk, index) => ({ virtdev: `scsi${index}`, image: disk.image, format: disk.format ?? 'qcow2' })) },
        firewallConfig: run.firewallConfig ?? VM_FIREWALL_CONFIG,
      },
    ],
    // PVE's bitmap naming unless a scenario asks for bp's standalone one: providers run under PVE.
    options: { bitmaps: 'pve', ...run.options, logDir },
    log: log.log,
    vmAccess: hookedOpener(run.hooks ?? {}),
    onEvent: (event) => {
      if (event.type !== 'phase') return;
      if (event.phase === 'backup-vm') backupVmStart = Date.now();
      else if (backupVmStart !== undefined && backupVmMs === undefined) backupVmMs = Date.now() - backupVmStart;
    },
    ...(signal ? { signal } : {}),
  }).finally(async () => {
    backupSeconds.after(key);
    await rm(logDir, { recursive: true, force: true });
  });
  const guest = job.guests[0]!;
  return { guest, job, log, backupVmMs, reachedBackupVm: backupVmStart !== undefined };
}
