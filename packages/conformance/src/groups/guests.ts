import { mkdir, mkdtemp } from 'node:fs/promises';
import { join } from 'node:path';
import type { BackupStorage } from '@bp/api';
import type { GuestType } from '@bp/api';
import { assembleVmGuestConfig, restoreVm } from '@bp/host';
import { DirectJob, type DirectGuestResult, type DirectJobHooks } from '../driver/direct-job.js';
import { restoreContainerDirect } from '../driver/restore-container.js';
import { conformanceError } from '../kit/verify.js';
import { TestDisk } from '../fixtures/disk.js';
import type { ScenarioContext } from '../kit/scenario.js';

/** The container config the kit backs up. */
export function containerGuestConfig(vmid: number): string {
  return ['arch: amd64', `hostname: conformance-ct-${vmid}`, 'memory: 512', `rootfs: local:subvol-${vmid}-disk-0,size=1G`, 'unprivileged: 1', ''].join('\n');
}

/** The firewall config the kit hands over with every guest. */
export const FIREWALL_CONFIG = '[OPTIONS]\nenable: 1\n\n[RULES]\nIN ACCEPT -p tcp -dport 22\n';

/** A tiny container root (a few files) for scenarios about the storage rather than the data. */
export async function smallContainerRoot(context: ScenarioContext): Promise<string> {
  const root = await mkdtemp(join(context.scratch, 'ct-root-'));
  await mkdir(join(root, 'etc'));
  const { writeFile } = await import('node:fs/promises');
  await writeFile(join(root, 'etc/hostname'), 'conformance\n');
  return root;
}

/** A directory for task logs handed to `backupHandleLogFile`. */
export async function logDirOf(context: ScenarioContext): Promise<string> {
  return mkdtemp(join(context.scratch, 'logs-'));
}

/** The guest type storage and lifecycle scenarios back up: containers when declared (no QEMU needed), else VMs. */
export function smallBackupType(context: ScenarioContext): GuestType {
  return context.supports.containerFormats.length > 0 ? 'lxc' : 'qemu';
}

/** A tiny guest of {@link smallBackupType} and what its restore must return. */
export interface SmallGuest {
  vmid: number;
  type: GuestType;
  /** The guest config the provider must hand back verbatim. */
  expectedConfig: string;
  /** Backs the guest up in `job`; `broken` makes the guest's data unreadable so the backup must fail. */
  backup(job: DirectJob, options?: { broken?: boolean; startTime?: number }, hooks?: DirectJobHooks): Promise<DirectGuestResult>;
}

/** Prepares a tiny guest (a few files, or a 4 MiB disk). */
export async function smallGuest(context: ScenarioContext, vmid: number): Promise<SmallGuest> {
  if (smallBackupType(context) === 'lxc') {
    const directory = await smallContainerRoot(context);
    const config = containerGuestConfig(vmid);
    return {
      vmid,
      type: 'lxc',
      expectedConfig: config,
      backup: (job, options = {}, hooks) =>
        job.backupContainer(
          { vmid, config, directory: options.broken ? join(context.scratch, 'does-not-exist') : directory, firewallConfig: FIREWALL_CONFIG, ...(options.startTime !== undefined ? { startTime: options.startTime } : {}) },
          hooks,
        ),
    };
  }
  const disk = await TestDisk.create(await mkdtemp(join(context.scratch, 'small-disk-')), 'disk0', 4 * 1024 * 1024, context.random);
  await disk.writeRandom([{ offset: 0, length: 64 * 1024 }]);
  const config = `name: small-${vmid}\nscsi0: local:vm-${vmid}-disk-0,size=4M\n`;
  return {
    vmid,
    type: 'qemu',
    expectedConfig: assembleVmGuestConfig(config, { kind: 'images', disks: [{ virtdev: 'scsi0', image: disk.image, format: 'qcow2' }] }),
    backup: (job, options = {}, hooks) =>
      job.backupVm(
        { vmid, config, disks: [options.broken ? { ...disk, image: join(context.scratch, 'does-not-exist.qcow2'), size: disk.size } : disk], firewallConfig: FIREWALL_CONFIG, ...(options.startTime !== undefined ? { startTime: options.startTime } : {}) },
        hooks,
      ),
  };
}

/** Makes one small, complete backup with the given backup time in its own job; returns its names. */
export async function smallBackup(
  context: ScenarioContext,
  storage: BackupStorage,
  vmid: number,
  startTime?: number,
  hooks?: DirectJobHooks,
): Promise<{ volid: string; volname: string; archiveSize?: number }> {
  const guest = await smallGuest(context, vmid);
  const job = new DirectJob(storage, await logDirOf(context));
  await job.start();
  const result = await guest.backup(job, startTime !== undefined ? { startTime } : {}, hooks);
  await job.end();
  if (!result.ok || !result.volid || !result.volname) {
    throw conformanceError(`${guest.type === 'lxc' ? 'container' : 'VM'} backup of ${vmid} failed\n${job.log.tail()}`, result.error);
  }
  return { volid: result.volid, volname: result.volname, ...(result.archiveSize !== undefined ? { archiveSize: result.archiveSize } : {}) };
}

/** Restores a small backup through fresh provider instances; returns the configs it handed back. */
export async function restoreSmall(context: ScenarioContext, storage: BackupStorage, volname: string): Promise<{ guestConfig: string; firewallConfig: string | undefined }> {
  const target = await mkdtemp(join(context.scratch, 'restore-'));
  if (smallBackupType(context) === 'lxc') return restoreContainerDirect(storage, volname, target);
  try {
    const restored = await restoreVm({ storage, volid: `${storage.storeId}:${volname}`, targetDir: target, format: 'raw' });
    return { guestConfig: restored.config, firewallConfig: restored.firewallConfig };
  } catch (error) {
    throw conformanceError(`restore of ${volname} failed`, error);
  }
}

/** Storage scenarios need some guest type to make backups from. */
export function needsGuests(supports: { containerFormats: readonly unknown[]; vmMechanisms: readonly unknown[] }): string | undefined {
  return supports.containerFormats.length === 0 && supports.vmMechanisms.length === 0 ? 'the provider declares neither VM mechanisms nor container formats' : undefined;
}
