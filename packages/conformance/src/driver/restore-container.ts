import { stat } from 'node:fs/promises';
import { restoreContainerInitResultSchema, restoreMechanismResultSchema, type BackupStorage } from '@bp/api';
import { COMMON_TAR_FLAGS } from '@bp/archive';
import { execa } from 'execa';
import { conformanceError } from '../kit/verify.js';
import { ProviderLog } from './provider-log.js';

/** What a container restore returned besides the tree. */
export interface ContainerRestoreResult {
  guestConfig: string;
  firewallConfig: string | undefined;
  mechanism: 'tar' | 'directory';
}

async function extract(mechanism: 'tar' | 'directory', source: string, target: string): Promise<void> {
  const unpack = ['-x', '-p', '-f', '-', ...COMMON_TAR_FLAGS, '-C', target, '--skip-old-files'];
  if (mechanism === 'tar') {
    await execa('tar', ['-x', '-p', '-f', source, ...COMMON_TAR_FLAGS, '-C', target, '--skip-old-files']);
    return;
  }
  // PVE pipes a privileged tar of the directory into the extraction (spec 1.5 step 4).
  await execa('tar', ['-c', '-p', '-f', '-', ...COMMON_TAR_FLAGS, `--directory=${source}`, '.']).pipe('tar', unpack);
}

/**
 * Restores a container backup into `target` as pve-container does (spec 1.5): the guest config
 * from one fresh provider instance, mechanism/init/extract/cleanup on a second, the firewall
 * config on a third.
 */
export async function restoreContainerDirect(storage: BackupStorage, volname: string, target: string): Promise<ContainerRestoreResult> {
  const log = new ProviderLog();
  const guestConfig = await storage
    .newBackupProvider(log.log)
    .archiveGetGuestConfig(volname)
    .catch((error: unknown) => {
      throw conformanceError(`archiveGetGuestConfig(${volname}) on a fresh provider instance failed; state must live on disk, not in memory`, error);
    });
  const provider = storage.newBackupProvider(log.log);
  const mechanismResult = restoreMechanismResultSchema.safeParse(
    await provider.restoreGetMechanism(volname).catch((error: unknown) => {
      throw conformanceError(`restoreGetMechanism(${volname}) on a fresh provider instance failed`, error);
    }),
  );
  if (!mechanismResult.success || mechanismResult.data.vmtype !== 'lxc' || mechanismResult.data.mechanism === 'qemu-img') {
    throw conformanceError(`restoreGetMechanism(${volname}) must return mechanism 'tar' or 'directory' with vmtype 'lxc' for a container backup`);
  }
  const mechanism = mechanismResult.data.mechanism;
  const init = await provider.restoreContainerInit(volname, {}).catch((error: unknown) => {
    throw conformanceError(`restoreContainerInit(${volname}) failed`, error);
  });
  try {
    const parsed = restoreContainerInitResultSchema.safeParse(init);
    if (!parsed.success) throw conformanceError(`restoreContainerInit(${volname}) returned ${JSON.stringify(init)}; expected { tarPath } or { archiveDirectory }`);
    const source = 'tarPath' in parsed.data ? parsed.data.tarPath : parsed.data.archiveDirectory;
    const expectedKind = mechanism === 'tar' ? 'tarPath' : 'archiveDirectory';
    if (!(expectedKind in parsed.data)) throw conformanceError(`restoreContainerInit(${volname}) returned ${Object.keys(parsed.data)[0]} for mechanism '${mechanism}'; expected ${expectedKind}`);
    const stats = await stat(source).catch(() => undefined);
    if (mechanism === 'tar' ? !stats?.isFile() : !stats?.isDirectory()) {
      throw conformanceError(`restoreContainerInit(${volname}) returned ${source}, which is not a ${mechanism === 'tar' ? 'regular file' : 'directory'}`);
    }
    try {
      await extract(mechanism, source, target);
    } catch (error) {
      throw conformanceError(`extracting the container archive of ${volname} (mechanism '${mechanism}') failed`, error);
    }
  } finally {
    await provider.restoreContainerCleanup(volname, {}).catch((error: unknown) => {
      throw conformanceError(`restoreContainerCleanup(${volname}) failed`, error);
    });
  }
  const firewallConfig = await storage
    .newBackupProvider(log.log)
    .archiveGetFirewallConfig(volname)
    .catch((error: unknown) => {
      throw conformanceError(`archiveGetFirewallConfig(${volname}) on a fresh provider instance failed`, error);
    });
  return { guestConfig, firewallConfig, mechanism };
}
