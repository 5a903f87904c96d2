// A simple provider that copies each NBD export (or its FUSE file) into a qcow2 with qemu-img, and restores by
// exposing a raw copy of the stored qcow2 (chain). Enough to prove the host's data paths.
import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { z } from 'zod';
import { directoryBackupInit } from './archive-dir.js';
import { BpError, CURRENT_SPECIFICATION_VERSION, type BackupProvider, type BackupStorage, type BackupStoragePlugin } from '@bp/api';

const configSchema = z.object({ path: z.string(), mechanism: z.enum(['nbd', 'file-handle']).default('nbd') });
type CopyConfig = z.infer<typeof configSchema>;

export const nbdUri = (socket: string, exportName: string): string => `nbd+unix:///${exportName}?socket=${socket}`;

function createProvider(config: CopyConfig): BackupProvider {
  const dirOf = (volname: string): string => join(config.path, volname.replace(/^backup\//, ''));
  const current = new Map<number, string>();
  const restoreDir = join(config.path, `.restore-${process.pid}`);
  const unsupported = async (): Promise<never> => {
    throw new BpError('BP_NOT_SUPPORTED', 'copy provider handles VMs only');
  };
  return {
    specificationVersion: CURRENT_SPECIFICATION_VERSION,
    providerName: async () => 'copy',
    jobInit: async () => {},
    jobCleanup: async () => {},
    backupInit: directoryBackupInit(config.path, current),
    backupCleanup: async (vmid, _type, success) => {
      const name = current.get(vmid);
      if (name !== undefined && !success) await rm(join(config.path, name), { recursive: true, force: true });
      return {};
    },
    backupGetMechanism: async () => config.mechanism,
    backupHandleLogFile: async () => {},
    backupVmQueryIncremental: async (_vmid, devices) => Object.fromEntries(Object.keys(devices).map((d) => [d, 'new' as const])),
    backupVm: async (vmid, guestConfig, volumes, info) => {
      const dir = join(config.path, current.get(vmid)!);
      await writeFile(join(dir, 'guest.conf'), guestConfig);
      if (info.firewallConfig !== undefined) await writeFile(join(dir, 'firewall.conf'), info.firewallConfig);
      for (const [device, volume] of Object.entries(volumes)) {
        // 'new' bitmaps: everything is dirty, so the whole export (or FUSE file) is readable.
        const source = volume.mechanism === 'nbd' ? nbdUri(volume.nbdPath, volume.exportName) : volume.filePath;
        await execa('qemu-img', ['convert', '-f', 'raw', '-O', 'qcow2', source, join(dir, `${device}.qcow2`)]);
      }
    },
    backupContainerPrepare: unsupported,
    backupContainer: unsupported,
    restoreGetMechanism: async () => ({ mechanism: 'qemu-img', vmtype: 'qemu' }),
    archiveGetGuestConfig: async (volname) => readFile(join(dirOf(volname), 'guest.conf'), 'utf8'),
    archiveGetFirewallConfig: async (volname) => {
      const file = join(dirOf(volname), 'firewall.conf');
      return existsSync(file) ? readFile(file, 'utf8') : undefined;
    },
    restoreVmInit: async (volname) => {
      const result: Record<string, { size: number }> = {};
      for (const file of await readdir(dirOf(volname))) {
        if (!file.endsWith('.qcow2')) continue;
        const { stdout } = await execa('qemu-img', ['info', '--output=json', '-f', 'qcow2', join(dirOf(volname), file)]);
        result[file.slice(0, -'.qcow2'.length)] = { size: (JSON.parse(stdout) as { 'virtual-size': number })['virtual-size'] };
      }
      return result;
    },
    restoreVmCleanup: async () => {
      await rm(restoreDir, { recursive: true, force: true });
    },
    restoreVmVolumeInit: async (volname, device) => {
      await mkdir(restoreDir, { recursive: true });
      const raw = join(restoreDir, `${device}.raw`);
      await execa('qemu-img', ['convert', '-f', 'qcow2', '-O', 'raw', join(dirOf(volname), `${device}.qcow2`), raw]);
      return { qemuImgPath: raw };
    },
    restoreVmVolumeCleanup: async (_volname, device) => {
      await rm(join(restoreDir, `${device}.raw`), { force: true });
    },
    restoreContainerInit: unsupported,
    restoreContainerCleanup: async () => {},
  };
}

export const copyPlugin: BackupStoragePlugin<CopyConfig> = {
  specificationVersion: CURRENT_SPECIFICATION_VERSION,
  type: 'copy',
  configSchema,
  supports: { vmMechanisms: ['nbd', 'file-handle'], incremental: false, containerFormats: [], notes: false, protected: false, prune: false, delete: false, verify: false },
  moduleRef: { module: fileURLToPath(import.meta.url), exportName: 'copyPlugin' },
  open(storeId, config): BackupStorage<CopyConfig> {
    const storage: BackupStorage<CopyConfig> = {
      storeId,
      config,
      plugin: copyPlugin,
      parseVolname: (volname) => {
        const match = /^backup\/((\d+)\/(?:qemu|lxc)-\d+)$/.exec(volname);
        if (!match) throw new BpError('BP_INVALID_VOLUME_ID', `not a copy backup: ${volname}`);
        return { vtype: 'backup', name: match[1]!, vmid: Number(match[2]) };
      },
      path: async (volname) => ({ path: join(config.path, volname), vmid: storage.parseVolname(volname).vmid, vtype: 'backup' }),
      listVolumes: async () => [],
      volumeSizeInfo: async () => ({ size: 0, format: 'directory', used: 0, ctime: 0 }),
      activateStorage: async () => {},
      status: async () => ({ total: 1, used: 0, available: 1, active: true }),
      pruneBackups: async () => [],
      freeImage: async () => {},
      getVolumeAttribute: async () => undefined,
      updateVolumeAttribute: async () => {
        throw new BpError('BP_NOT_SUPPORTED', 'copy storage keeps no attributes');
      },
      newBackupProvider: () => createProvider(config),
    };
    return storage;
  },
};
