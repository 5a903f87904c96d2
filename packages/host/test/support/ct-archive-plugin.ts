// A container storage: `<path>/<vmid>/lxc-<t>/` holding guest.conf, optional firewall.conf and
// either archive.tar(.zst) (mechanism tar) or tree/ (directory). Backups tar the sources in the
// container child; tests may also prepare backups by hand.
import { existsSync, readdirSync } from 'node:fs';
import { chown, readFile, writeFile } from 'node:fs/promises';
import { execa } from 'execa';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { directoryBackupInit } from './archive-dir.js';
import { BpError, CURRENT_SPECIFICATION_VERSION, type BackupProvider, type BackupStorage, type BackupStoragePlugin } from '@bp/api';

const configSchema = z.object({ path: z.string() });

const TAR_FLAGS = ['--sparse', '--numeric-owner', '--acls', '--xattrs', '--xattrs-include=user.*', '--xattrs-include=security.capability'];
type Config = z.infer<typeof configSchema>;

function createProvider(config: Config): BackupProvider {
  const dirOf = (volname: string): string => join(config.path, volname.replace(/^backup\//, ''));
  const archiveOf = (volname: string): string | undefined => readdirSync(dirOf(volname)).find((f) => f.startsWith('archive.tar'));
  const no = async (): Promise<never> => {
    throw new BpError('BP_NOT_SUPPORTED', 'restore-only test provider');
  };
  const current = new Map<number, string>();
  return {
    specificationVersion: CURRENT_SPECIFICATION_VERSION,
    providerName: async () => 'ct-archive',
    jobInit: async () => {},
    jobCleanup: async () => {},
    backupInit: directoryBackupInit(config.path, current),
    backupCleanup: async () => ({}),
    backupGetMechanism: async () => 'directory',
    backupHandleLogFile: async () => {},
    backupVmQueryIncremental: no,
    backupVm: no,
    // As root: hand the backup directory to the container's root.
    backupContainerPrepare: async (vmid, info) => {
      await chown(join(config.path, current.get(vmid)!), info.backupUserId, info.backupGroupId ?? info.backupUserId);
    },
    // In the child (a fresh instance): the backup directory is found again by its vmid.
    backupContainer: async (vmid, guestConfig, _excludes, info) => {
      const [name] = readdirSync(join(config.path, String(vmid)));
      const dir = join(config.path, String(vmid), name!);
      await writeFile(join(dir, 'guest.conf'), guestConfig);
      if (info.firewallConfig) await writeFile(join(dir, 'firewall.conf'), info.firewallConfig);
      await execa('tar', ['cpf', join(dir, 'archive.tar'), ...TAR_FLAGS, '--one-file-system', '-C', info.directory, ...info.sources]);
    },
    restoreGetMechanism: async (volname) => ({ mechanism: archiveOf(volname) ? 'tar' : 'directory', vmtype: 'lxc' }),
    archiveGetGuestConfig: async (volname) => readFile(join(dirOf(volname), 'guest.conf'), 'utf8'),
    archiveGetFirewallConfig: async (volname) => {
      const file = join(dirOf(volname), 'firewall.conf');
      return existsSync(file) ? readFile(file, 'utf8') : undefined;
    },
    restoreVmInit: no,
    restoreVmCleanup: no,
    restoreVmVolumeInit: no,
    restoreVmVolumeCleanup: no,
    restoreContainerInit: async (volname) => {
      const archive = archiveOf(volname);
      return archive ? { tarPath: join(dirOf(volname), archive) } : { archiveDirectory: join(dirOf(volname), 'tree') };
    },
    restoreContainerCleanup: async () => {},
  };
}

export const ctArchivePlugin: BackupStoragePlugin<Config> = {
  specificationVersion: CURRENT_SPECIFICATION_VERSION,
  type: 'ct-archive',
  configSchema,
  supports: { vmMechanisms: [], incremental: false, containerFormats: ['tar'], notes: false, protected: false, prune: false, delete: false, verify: false },
  moduleRef: { module: fileURLToPath(import.meta.url), exportName: 'ctArchivePlugin' },
  open(storeId, config): BackupStorage<Config> {
    const no = async (): Promise<never> => {
      throw new BpError('BP_NOT_SUPPORTED', 'restore-only test storage');
    };
    const storage: BackupStorage<Config> = {
      storeId,
      config,
      plugin: ctArchivePlugin,
      parseVolname: (volname) => {
        const match = /^backup\/((\d+)\/lxc-\d+)$/.exec(volname);
        if (!match) throw new BpError('BP_INVALID_VOLUME_ID', `not a container backup: ${volname}`);
        return { vtype: 'backup', name: match[1]!, vmid: Number(match[2]) };
      },
      path: no,
      listVolumes: async () => [],
      volumeSizeInfo: no,
      activateStorage: async () => {},
      status: async () => ({ total: 1, used: 0, available: 1, active: true }),
      pruneBackups: async () => [],
      freeImage: no,
      getVolumeAttribute: async () => undefined,
      updateVolumeAttribute: no,
      newBackupProvider: () => createProvider(config),
    };
    return storage;
  },
};
