// A minimal in-memory provider + storage: proves the contract can be implemented as written.
import { z } from 'zod';
import {
  BpError,
  CURRENT_SPECIFICATION_VERSION,
  type BackupProvider,
  type BackupStorage,
  type BackupStoragePlugin,
  type BackupVolume,
  type GuestType,
  type LogFunction,
} from '../src/index.js';

interface StoredBackup {
  vmid: number;
  vmtype: GuestType;
  ctime: number;
  guestConfig: string;
  firewallConfig?: string;
  disks: Record<string, Uint8Array>;
  notes?: string;
  protected?: boolean;
  complete: boolean;
}

const configSchema = z.object({ name: z.string() });
type MemoryConfig = z.infer<typeof configSchema>;

export function createMemoryPlugin(): BackupStoragePlugin<MemoryConfig> & { backups: Map<string, StoredBackup> } {
  const backups = new Map<string, StoredBackup>();
  const plugin: BackupStoragePlugin<MemoryConfig> & { backups: Map<string, StoredBackup> } = {
    specificationVersion: CURRENT_SPECIFICATION_VERSION,
    type: 'memory',
    configSchema,
    supports: { vmMechanisms: ['nbd'], incremental: false, containerFormats: [], notes: true, protected: true, prune: false, delete: true, verify: false },
    moduleRef: { module: 'memory', exportName: 'memory' },
    backups,
    open(storeId, config): BackupStorage<MemoryConfig> {
      const find = (volname: string): [string, StoredBackup] => {
        const name = volname.replace(/^backup\//, '');
        const backup = backups.get(name);
        if (!backup?.complete) throw new BpError('BP_NOT_FOUND', `backup ${volname} does not exist`);
        return [name, backup];
      };
      const storage: BackupStorage<MemoryConfig> = {
        storeId,
        config,
        plugin,
        parseVolname: (volname) => {
          const match = /^backup\/((\d+)\/(qemu|lxc)-(\d+))$/.exec(volname);
          if (!match) throw new BpError('BP_INVALID_VOLUME_ID', `not a backup volume name: ${volname}`);
          return { vtype: 'backup', name: match[1]!, vmid: Number(match[2]) };
        },
        path: async (volname) => ({ path: `memory:${volname}`, vmid: storage.parseVolname(volname).vmid, vtype: 'backup' }),
        listVolumes: async (filter = {}) =>
          [...backups.entries()]
            .filter(([, b]) => b.complete && (filter.vmid === undefined || b.vmid === filter.vmid))
            .map(([name, b]): BackupVolume => ({
              volid: `${storeId}:backup/${name}`,
              vmid: b.vmid,
              format: 'memory',
              ctime: b.ctime,
              size: Object.values(b.disks).reduce((sum, d) => sum + d.length, 0),
              subtype: b.vmtype,
              content: 'backup',
              ...(b.notes ? { notes: b.notes } : {}),
              protected: b.protected ?? false,
            }))
            .sort((a, b) => a.volid.localeCompare(b.volid)),
        volumeSizeInfo: async (volname) => {
          const [, b] = find(volname);
          const size = Object.values(b.disks).reduce((sum, d) => sum + d.length, 0);
          return { size, format: 'memory', used: size, ctime: b.ctime };
        },
        activateStorage: async () => {},
        status: async () => ({ total: 1, used: 0, available: 1, active: true }),
        pruneBackups: async () => {
          throw new BpError('BP_NOT_SUPPORTED', 'memory storage does not prune');
        },
        freeImage: async (volname) => {
          const [name, b] = find(volname);
          if (b.protected) throw new BpError('BP_PROTECTED', `backup ${volname} is protected; unprotect it first`);
          backups.delete(name);
        },
        getVolumeAttribute: async (volname, attribute) => {
          const [, b] = find(volname);
          return attribute === 'notes' ? (b.notes ?? '') : (b.protected ?? false);
        },
        updateVolumeAttribute: async (volname, attribute, value) => {
          const [, b] = find(volname);
          if (attribute === 'notes') b.notes = String(value);
          else b.protected = Boolean(value);
        },
        newBackupProvider: (log: LogFunction): BackupProvider => createMemoryProvider(backups, log),
      };
      return storage;
    },
  };
  return plugin;
}

function createMemoryProvider(backups: Map<string, StoredBackup>, log: LogFunction): BackupProvider {
  const current = new Map<number, string>();
  const unsupported = async (): Promise<never> => {
    throw new BpError('BP_NOT_SUPPORTED', 'memory provider backs up VMs over nbd only');
  };
  return {
    specificationVersion: CURRENT_SPECIFICATION_VERSION,
    providerName: async () => 'memory',
    jobInit: async () => log('info', 'job start'),
    jobCleanup: async () => {},
    backupInit: async (vmid, vmtype, startTime) => {
      const archiveName = `${vmid}/${vmtype}-${startTime}`;
      backups.set(archiveName, { vmid, vmtype, ctime: startTime, guestConfig: '', disks: {}, complete: false });
      current.set(vmid, archiveName);
      return { archiveName };
    },
    backupCleanup: async (vmid, _vmtype, success) => {
      const name = current.get(vmid);
      if (name === undefined) return {};
      const backup = backups.get(name);
      if (!success || !backup) {
        backups.delete(name);
        return {};
      }
      backup.complete = true;
      return { stats: { archiveSize: Object.values(backup.disks).reduce((sum, d) => sum + d.length, 0) } };
    },
    backupGetMechanism: async (_vmid, vmtype) => (vmtype === 'qemu' ? 'nbd' : 'directory'),
    backupHandleLogFile: async () => {},
    backupVmQueryIncremental: async () => undefined,
    backupVm: async (vmid, guestConfig, volumes, info) => {
      const backup = backups.get(current.get(vmid) ?? '');
      if (!backup) throw new BpError('BP_PROVIDER_FAILED', 'backupVm without backupInit');
      backup.guestConfig = guestConfig;
      if (info.firewallConfig !== undefined) backup.firewallConfig = info.firewallConfig;
      for (const [device, volume] of Object.entries(volumes)) backup.disks[device] = new Uint8Array(volume.size);
    },
    backupContainerPrepare: unsupported,
    backupContainer: unsupported,
    restoreGetMechanism: async () => ({ mechanism: 'qemu-img', vmtype: 'qemu' }),
    archiveGetGuestConfig: async (volname) => backups.get(volname.replace(/^backup\//, ''))?.guestConfig ?? '',
    archiveGetFirewallConfig: async (volname) => backups.get(volname.replace(/^backup\//, ''))?.firewallConfig,
    restoreVmInit: async (volname) => {
      const backup = backups.get(volname.replace(/^backup\//, ''));
      return Object.fromEntries(Object.entries(backup?.disks ?? {}).map(([d, data]) => [d, { size: data.length }]));
    },
    restoreVmCleanup: async () => {},
    restoreVmVolumeInit: async (_volname, device) => ({ qemuImgPath: `/dev/memory/${device}` }),
    restoreVmVolumeCleanup: async () => {},
    restoreContainerInit: unsupported,
    restoreContainerCleanup: async () => {},
  };
}
