import { chown, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { BpError, defineProvider, parseVolname, type BackupProvider, type LogFunction, type StorageConfig } from '@bp/api';
import { createTarArchive } from '@bp/archive';
import { exists, FILES, type Layout } from './layout.js';
import { finishBackup, markDataDone } from './session.js';
import { supports } from './supports.js';

const ARCHIVE = 'root.tar';

/** The container provider: one tar per backup, written the way vzdump writes it. */
export function createProvider(layout: Layout, _config: StorageConfig, log: LogFunction): BackupProvider {
  const current = async (vmid: number): Promise<string> => {
    const archiveName = await layout.inProgress(vmid, 'lxc');
    if (archiveName === undefined) throw new BpError('BP_PROVIDER_FAILED', `no backup of container ${vmid} in progress; backupInit comes first`);
    return archiveName;
  };
  return defineProvider(supports, {
    name: '__NAME__',
    backupInit: async (vmid, vmtype, startTime) => ({ archiveName: await layout.begin(vmid, vmtype, startTime) }),
    backupCleanup: (vmid, vmtype, success) => finishBackup(layout, vmid, vmtype, success),
    async backupContainerPrepare(vmid, info) {
      // backupContainer may run as the container's mapped root: let it write the backup directory.
      await chown(layout.partialDir(await current(vmid)), info.backupUserId, info.backupGroupId ?? info.backupUserId);
    },
    // Runs on a fresh provider instance, possibly in a child process: everything it needs is on disk.
    async backupContainer(vmid, guestConfig, excludePatterns, info) {
      const archiveName = await current(vmid);
      const dir = layout.partialDir(archiveName);
      const result = await createTarArchive({
        directory: info.directory,
        sources: info.sources,
        exclude: excludePatterns,
        output: join(dir, ARCHIVE),
        ...(info.bandwidthLimit ? { bandwidthLimit: info.bandwidthLimit } : {}),
      });
      log('info', result.totals);
      await writeFile(join(dir, FILES.guestConfig), guestConfig);
      await writeFile(join(dir, FILES.firewallConfig), info.firewallConfig);
      await markDataDone(layout, archiveName);
    },
    restoreGetMechanism: async (volname) => {
      await layout.existing(parseVolname(volname).archiveName); // refuses names that are not backups here
      return { mechanism: 'tar', vmtype: 'lxc' };
    },
    archiveGetGuestConfig: async (volname) => readFile(join(await layout.existing(parseVolname(volname).archiveName), FILES.guestConfig), 'utf8'),
    archiveGetFirewallConfig: async (volname) => layout.readText(parseVolname(volname).archiveName, FILES.firewallConfig),
    async restoreContainerInit(volname) {
      const tarPath = join(await layout.existing(parseVolname(volname).archiveName), ARCHIVE);
      if (!(await exists(tarPath))) throw new BpError('BP_NOT_FOUND', `backup ${volname} holds no container archive`);
      return { tarPath };
    },
  });
}
