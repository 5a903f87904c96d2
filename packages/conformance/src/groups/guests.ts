import { mkdir, mkdtemp } from 'node:fs/promises';
import { join } from 'node:path';
import type { BackupStorage } from '@bp/api';
import { backupContainerOnce, type DirectJobHooks } from '../driver/direct-job.js';
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

/** Makes one small, complete container backup with the given backup time; returns its names. */
export async function smallBackup(
  context: ScenarioContext,
  storage: BackupStorage,
  vmid: number,
  startTime?: number,
  hooks?: DirectJobHooks,
): Promise<{ volid: string; volname: string; archiveSize?: number }> {
  const directory = await smallContainerRoot(context);
  return backupContainerOnce(storage, await logDirOf(context), { vmid, config: containerGuestConfig(vmid), directory, firewallConfig: FIREWALL_CONFIG, ...(startTime !== undefined ? { startTime } : {}) }, hooks);
}

/** Storage scenarios build their backups from containers: they need no QEMU. */
export function needsContainers(supports: { containerFormats: readonly unknown[] }): string | undefined {
  return supports.containerFormats.length === 0 ? 'the storage scenarios build backups from containers, which the provider does not declare' : undefined;
}
