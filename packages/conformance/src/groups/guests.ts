import { mkdir, mkdtemp } from 'node:fs/promises';
import { join } from 'node:path';
import type { BackupStorage } from '@bp/api';
import type { GuestType } from '@bp/api';
import { backupOnce, type DirectJobHooks } from '../driver/direct-job.js';
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

/** The guest type storage scenarios back up: containers when declared (no QEMU needed), else VMs. */
export function smallBackupType(context: ScenarioContext): GuestType {
  return context.supports.containerFormats.length > 0 ? 'lxc' : 'qemu';
}

/** Makes one small, complete backup (see {@link smallBackupType}) with the given backup time; returns its names. */
export async function smallBackup(
  context: ScenarioContext,
  storage: BackupStorage,
  vmid: number,
  startTime?: number,
  hooks?: DirectJobHooks,
): Promise<{ volid: string; volname: string; archiveSize?: number }> {
  const logDir = await logDirOf(context);
  const time = startTime !== undefined ? { startTime } : {};
  if (smallBackupType(context) === 'lxc') {
    const directory = await smallContainerRoot(context);
    return backupOnce(storage, logDir, { type: 'lxc', vmid, config: containerGuestConfig(vmid), directory, firewallConfig: FIREWALL_CONFIG, ...time }, hooks);
  }
  const disk = await TestDisk.create(await mkdtemp(join(context.scratch, 'small-disk-')), 'disk0', 4 * 1024 * 1024);
  await disk.writeRandom([{ offset: 0, length: 64 * 1024 }]);
  return backupOnce(storage, logDir, { type: 'qemu', vmid, config: `name: small-${vmid}\nscsi0: local:vm-${vmid}-disk-0,size=4M\n`, disks: [disk], ...time }, hooks);
}

/** Storage scenarios need some guest type to make backups from. */
export function needsGuests(supports: { containerFormats: readonly unknown[]; vmMechanisms: readonly unknown[] }): string | undefined {
  return supports.containerFormats.length === 0 && supports.vmMechanisms.length === 0 ? 'the provider declares neither VM mechanisms nor container formats' : undefined;
}

/** Scenarios that restore container trees. */
export function needsContainers(supports: { containerFormats: readonly unknown[] }): string | undefined {
  return supports.containerFormats.length === 0 ? 'the scenario restores a container, and the provider declares no container format' : undefined;
}
