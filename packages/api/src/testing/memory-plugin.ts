import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { z } from 'zod';
import { defineProvider } from '../define/define-provider.js';
import { defineStoragePlugin } from '../define/define-storage-plugin.js';
import { BpError } from '../errors/index.js';
import type { BackupProvider } from '../provider/backup-provider.js';
import type { LogFunction } from '../provider/guest.js';
import { formatArchiveName, parseArchiveName } from '../rules/guest-archive-name.js';
import { pruneBackups as markPrune } from '../rules/prune/prune-backups.js';
import { formatVolname, parseVolname } from '../rules/volume-id.js';
import type { BackupStoragePlugin, PruneBackupsOptions } from '../storage/backup-storage.js';
import { vmBackupModeSchema } from '../storage/config.js';
import type { StorageSupports } from '../storage/supports.js';
import type { BackupVolume, PruneResultEntry, VolumeAttribute } from '../storage/volume.js';
import { copyVolume } from './copy-volume.js';
import { backupBytes, createMemoryStore, type MemoryBackup, type MemoryStore } from './memory-store.js';

/** The memory storage's config: a name (one store per name and plugin) and the VM backup mode. */
export const memoryConfigSchema = z.strictObject({
  /** Storages opened with the same name share their backups (as two opens of one directory would). */
  name: z.string().min(1).default('memory'),
  /** `incremental` (default): dirty-bitmap backups on top of the previous one; `full`: no bitmaps. */
  'vm-backup-mode': vmBackupModeSchema.default('incremental'),
});
/** A parsed memory storage config. */
export type MemoryConfig = z.output<typeof memoryConfigSchema>;

/** What the memory provider does: VMs over file handles, incremental, notes, protection, prune, delete. */
export const MEMORY_SUPPORTS: StorageSupports = {
  vmMechanisms: ['file-handle'],
  incremental: true,
  containerFormats: [],
  notes: true,
  protected: true,
  prune: true,
  delete: true,
  verify: false,
};

/** Options of {@link createMemoryPlugin}. */
export interface MemoryPluginOptions {
  /** Storage operations to leave out of the declaration and the storage. */
  without?: ReadonlyArray<'notes' | 'protected' | 'prune' | 'delete'>;
}

function find(store: MemoryStore, volname: string, options: { inProgress?: boolean } = {}): MemoryBackup {
  const { archiveName } = parseVolname(volname);
  const backup = store.backups.get(archiveName);
  if (!backup || backup.state === 'writing' || (backup.state === 'written' && !options.inProgress)) {
    throw new BpError('BP_NOT_FOUND', `backup ${volname} does not exist; list the storage to see its backups`, { details: { volname } });
  }
  return backup;
}

function memoryProvider(store: MemoryStore, config: MemoryConfig, log: LogFunction): BackupProvider {
  const current = (vmid: number): MemoryBackup | undefined => store.backups.get(store.inProgress.get(vmid) ?? '');
  return defineProvider(MEMORY_SUPPORTS, {
    name: 'memory',
    async backupInit(vmid, vmtype, startTime) {
      const archiveName = formatArchiveName({ vmid, vmtype, time: startTime });
      if (store.backups.has(archiveName)) throw new BpError('BP_ALREADY_EXISTS', `a backup ${archiveName} exists already; start the next one a second later`);
      store.backups.set(archiveName, { archiveName, vmid, vmtype, ctime: startTime, guestConfig: '', disks: new Map(), protected: false, state: 'writing' });
      store.inProgress.set(vmid, archiveName);
      return { archiveName };
    },
    async backupCleanup(vmid, _vmtype, success) {
      const backup = current(vmid);
      if (!backup) return {}; // no backupInit, or cleaned up already: nothing to do (spec 1.7)
      store.inProgress.delete(vmid);
      if (success && backup.state === 'written') {
        backup.state = 'published';
        store.bitmapBase.set(vmid, backup.archiveName);
        return { stats: { archiveSize: backupBytes(backup) } };
      }
      // H1: after a successful backupVm QEMU has reset the bitmap; the next backup must be full.
      if (backup.state === 'written') store.bitmapBase.delete(vmid);
      store.backups.delete(backup.archiveName);
      return {};
    },
    async backupVmQueryIncremental(vmid, devices) {
      if (config['vm-backup-mode'] === 'full') return undefined;
      const base = store.backups.get(store.bitmapBase.get(vmid) ?? '');
      const backup = current(vmid);
      if (backup && base) backup.base = base.archiveName;
      return Object.fromEntries(Object.entries(devices).map(([device, { size }]) => [device, base?.disks.get(device)?.length === size ? 'use' : 'new']));
    },
    async backupVm(vmid, guestConfig, volumes, info) {
      const backup = current(vmid);
      if (!backup) throw new BpError('BP_PROVIDER_FAILED', `backupVm(${vmid}) without backupInit`);
      const base = backup.base === undefined ? undefined : store.backups.get(backup.base);
      for (const [device, volume] of Object.entries(volumes)) {
        const from = volume.bitmapMode === 'reuse' ? base?.disks.get(device) : undefined;
        if (volume.bitmapMode === 'reuse' && from?.length !== volume.size) {
          throw new BpError('BP_CHAIN_BROKEN', `${device}: QEMU reuses a bitmap but the base backup ${backup.base ?? '(none)'} is gone; the next backup will be full`);
        }
        const image = from ? Buffer.from(from) : Buffer.alloc(volume.size);
        await copyVolume(device, volume, image, info);
        backup.disks.set(device, image);
        log('info', `${device}: stored ${volume.bitmapMode === 'reuse' ? 'changes' : 'everything'} (${volume.size} bytes)`);
      }
      backup.guestConfig = guestConfig;
      if (info.firewallConfig !== undefined) backup.firewallConfig = info.firewallConfig;
      backup.state = 'written';
    },
    async restoreGetMechanism(volname) {
      const backup = find(store, volname);
      return { mechanism: 'qemu-img', vmtype: backup.vmtype };
    },
    archiveGetGuestConfig: async (volname) => find(store, volname).guestConfig,
    archiveGetFirewallConfig: async (volname) => find(store, volname).firewallConfig,
    async restoreVmInit(volname) {
      const backup = find(store, volname);
      return Object.fromEntries([...backup.disks].map(([device, image]) => [device, { size: image.length }]));
    },
    async restoreVmVolumeInit(volname, device) {
      const image = find(store, volname).disks.get(device);
      if (!image) throw new BpError('BP_NOT_FOUND', `backup ${volname} holds no disk ${device}`, { details: { volname, device } });
      // qemu-img reads a path: the image goes to a private temporary file until the cleanup.
      const path = join(await mkdtemp(join(tmpdir(), 'bp-memory-restore-')), `${device}.raw`);
      await writeFile(path, image, { mode: 0o600 });
      store.restoreFiles.set(`${volname}\0${device}`, path);
      return { qemuImgPath: path };
    },
    async restoreVmVolumeCleanup(volname, device) {
      const path = store.restoreFiles.get(`${volname}\0${device}`);
      store.restoreFiles.delete(`${volname}\0${device}`);
      if (path) await rm(dirname(path), { recursive: true, force: true });
    },
    async restoreVmCleanup(volname) {
      for (const [key, path] of store.restoreFiles) {
        if (!key.startsWith(`${volname}\0`)) continue;
        store.restoreFiles.delete(key);
        await rm(dirname(path), { recursive: true, force: true });
      }
    },
  });
}

async function pruneMemory(store: MemoryStore, storeId: string, keep: string | Record<string, number | boolean>, options: PruneBackupsOptions): Promise<PruneResultEntry[]> {
  // vzdump prunes before backupCleanup(true): a backup whose data is written counts as kept.
  const candidates = [...store.backups.values()].filter((backup) => backup.state !== 'writing');
  const entries = candidates.map((backup) => ({ volid: `${storeId}:${formatVolname(backup.archiveName)}`, ctime: backup.ctime, vmid: backup.vmid, type: backup.vmtype, protected: backup.protected, backup }));
  const marked = markPrune(entries, keep, { ...(options.vmid === undefined ? {} : { vmid: options.vmid }), ...(options.type === undefined ? {} : { type: options.type }) });
  return marked.map(({ volid, ctime, vmid, type, mark, backup }) => {
    if (backup.state === 'written') return { volid, ctime, vmid, type, mark: mark === 'protected' ? mark : 'keep', note: 'in progress' };
    if (mark === 'remove' && !options.dryRun) {
      options.log?.('info', `removing backup '${volid}'`);
      removeBackup(store, backup);
    }
    return { volid, ctime, vmid, type, mark };
  });
}

function removeBackup(store: MemoryStore, backup: MemoryBackup): void {
  store.backups.delete(backup.archiveName);
  if (store.bitmapBase.get(backup.vmid) === backup.archiveName) store.bitmapBase.delete(backup.vmid);
}

/**
 * A storage plugin that keeps backups in memory: the smallest complete implementation of the
 * contract, built with {@link defineStoragePlugin} and {@link defineProvider}, that passes the
 * conformance kit's VM, lifecycle and storage scenarios. Each call returns a plugin with its own
 * stores; storages opened with the same `name` share one store.
 *
 * For tests and as a template: backups vanish with the process, and container backups (which PVE
 * runs in a child process) are not supported. `options.without` leaves storage operations out
 * (their methods are not given, so they throw `BP_NOT_SUPPORTED`), e.g. to test a consumer
 * against a storage that cannot prune.
 */
export function createMemoryPlugin(options: MemoryPluginOptions = {}): BackupStoragePlugin<MemoryConfig> {
  const stores = new Map<string, MemoryStore>();
  const without = new Set(options.without ?? []);
  const supports: StorageSupports = { ...MEMORY_SUPPORTS, ...Object.fromEntries([...without].map((flag) => [flag, false])) };
  const attributes = supports.notes || supports.protected;
  return defineStoragePlugin({
    type: 'bp-memory',
    configSchema: memoryConfigSchema,
    supports,
    moduleRef: { module: '@bp/api/testing', exportName: 'memoryPlugin' },
    open(storeId, config) {
      const store = stores.get(config.name) ?? createMemoryStore();
      stores.set(config.name, store);
      const published = (): MemoryBackup[] => [...store.backups.values()].filter((backup) => backup.state === 'published');
      const volume = (backup: MemoryBackup): BackupVolume => ({
        volid: `${storeId}:${formatVolname(backup.archiveName)}`,
        vmid: backup.vmid,
        format: 'memory',
        ctime: backup.ctime,
        size: backupBytes(backup),
        subtype: backup.vmtype,
        content: 'backup',
        ...(backup.notes === undefined ? {} : { notes: backup.notes }),
        protected: backup.protected,
      });
      return {
        parseVolname(volname) {
          const { archiveName } = parseVolname(volname);
          return { vtype: 'backup', name: archiveName, vmid: parseArchiveName(archiveName).vmid };
        },
        path: async (volname) => ({ path: `memory:${config.name}/${volname}`, vmid: find(store, volname).vmid, vtype: 'backup' }),
        listVolumes: async (filter = {}) =>
          published()
            .filter((backup) => filter.vmid === undefined || backup.vmid === filter.vmid)
            .map(volume)
            .sort((a, b) => a.volid.localeCompare(b.volid)),
        async volumeSizeInfo(volname) {
          const backup = find(store, volname);
          return { size: backupBytes(backup), format: 'memory', used: backupBytes(backup), ctime: backup.ctime };
        },
        async status() {
          const used = published().reduce((sum, backup) => sum + backupBytes(backup), 0);
          return { total: used, used, available: 0, active: true };
        },
        ...(supports.prune ? { pruneBackups: (keep: string | Record<string, number | boolean>, prune: PruneBackupsOptions = {}) => pruneMemory(store, storeId, keep, prune) } : {}),
        ...(supports.delete
          ? {
              async freeImage(volname: string) {
                const backup = find(store, volname);
                if (backup.protected) throw new BpError('BP_PROTECTED', `backup ${volname} is protected; remove the protection first`, { details: { volname } });
                removeBackup(store, backup);
              },
            }
          : {}),
        ...(attributes
          ? {
              async getVolumeAttribute(volname: string, attribute: VolumeAttribute) {
                const backup = find(store, volname, { inProgress: true });
                return attribute === 'notes' ? (backup.notes ?? '') : backup.protected;
              },
              async updateVolumeAttribute(volname: string, attribute: VolumeAttribute, value: string | boolean) {
                const backup = find(store, volname, { inProgress: true });
                if (attribute === 'notes') backup.notes = String(value);
                else backup.protected = value === true || value === '1';
              },
            }
          : {}),
        newBackupProvider: (log) => memoryProvider(store, config, log),
      };
    },
  });
}

/** A shared memory plugin (its `moduleRef` names this export). */
export const memoryPlugin: BackupStoragePlugin<MemoryConfig> = createMemoryPlugin();
