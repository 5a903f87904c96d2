import { rm } from 'node:fs/promises';
import {
  BpError,
  formatVolumeId,
  parseArchiveName,
  parseVolname,
  pruneBackups as markPrune,
  type BackupProvider,
  type BackupVolume,
  type LogFunction,
  type PruneResultEntry,
  type StorageConfig,
  type StorageDefinition,
  type StorageSupports,
} from '@bp/api';
import { directoryBytes, FILES, Layout } from './layout.js';

/**
 * The storage side every template shares: listing, sizes, notes, protection, prune and delete of
 * the backups in {@link Layout}. `newBackupProvider` is the template's.
 */
export function openStorage(storeId: string, config: StorageConfig, supports: StorageSupports, newBackupProvider: (layout: Layout, log: LogFunction) => BackupProvider): StorageDefinition<StorageConfig> {
  const layout = new Layout(config.path);
  const archiveOf = (volname: string): string => parseVolname(volname).archiveName;
  const volume = async (archiveName: string): Promise<BackupVolume> => {
    const { vmid, vmtype, time } = parseArchiveName(archiveName);
    const notes = await layout.readText(archiveName, FILES.notes);
    return {
      volid: formatVolumeId(storeId, archiveName),
      vmid,
      format: 'directory',
      ctime: time,
      size: await directoryBytes(layout.dir(archiveName)),
      subtype: vmtype,
      content: 'backup',
      ...(notes === undefined ? {} : { notes }),
      protected: (await layout.readText(archiveName, FILES.protected)) !== undefined,
    };
  };
  const isProtected = async (archiveName: string): Promise<boolean> => (await layout.readText(archiveName, FILES.protected)) !== undefined;
  return {
    parseVolname(volname) {
      const archiveName = archiveOf(volname);
      return { vtype: 'backup', name: archiveName, vmid: parseArchiveName(archiveName).vmid };
    },
    path: async (volname) => ({ path: await layout.existing(archiveOf(volname)), vmid: parseArchiveName(archiveOf(volname)).vmid, vtype: 'backup' }),
    listVolumes: async (filter = {}) => Promise.all((await layout.list(filter.vmid)).map(volume)),
    async volumeSizeInfo(volname) {
      await layout.existing(archiveOf(volname));
      const { size, ctime } = await volume(archiveOf(volname));
      return { size, format: 'directory', used: size, ctime };
    },
    status: async () => ({ total: 0, used: 0, available: 0, active: true }),
    ...(supports.notes || supports.protected
      ? {
          async getVolumeAttribute(volname: string, attribute: 'notes' | 'protected') {
            const archiveName = archiveOf(volname);
            await layout.existing(archiveName);
            return attribute === 'notes' ? ((await layout.readText(archiveName, FILES.notes)) ?? '') : isProtected(archiveName);
          },
          async updateVolumeAttribute(volname: string, attribute: 'notes' | 'protected', value: string | boolean) {
            const archiveName = archiveOf(volname);
            // vzdump sets notes and protection on the backup still being written, before publishing it.
            const dir = (await layout.inProgress(parseArchiveName(archiveName).vmid)) === archiveName ? layout.partialDir(archiveName) : await layout.existing(archiveName);
            if (attribute === 'notes') await layout.writeText(dir, FILES.notes, String(value));
            else if (value === true || value === '1') await layout.writeText(dir, FILES.protected, '1\n');
            else await rm(`${dir}/${FILES.protected}`, { force: true });
          },
        }
      : {}),
    ...(supports.prune
      ? {
          async pruneBackups(keep: string | Record<string, number | boolean>, options: { vmid?: number; type?: 'qemu' | 'lxc'; dryRun?: boolean; log?: LogFunction } = {}) {
            const entries = await Promise.all(
              (await layout.list(options.vmid)).map(async (archiveName) => {
                const { vmid, vmtype, time } = parseArchiveName(archiveName);
                return { archiveName, volid: formatVolumeId(storeId, archiveName), ctime: time, vmid, type: vmtype, protected: await isProtected(archiveName) };
              }),
            );
            // vzdump prunes before publishing the new backup: it counts as kept.
            for (const vmid of new Set(options.vmid === undefined ? entries.map((entry) => entry.vmid) : [options.vmid])) {
              const archiveName = await layout.inProgress(vmid);
              if (archiveName === undefined) continue;
              const { vmtype, time } = parseArchiveName(archiveName);
              entries.push({ archiveName, volid: formatVolumeId(storeId, archiveName), ctime: time, vmid, type: vmtype, protected: (await layout.readText(`${archiveName}.partial`, FILES.protected)) !== undefined });
            }
            const marked = markPrune(entries, keep, { ...(options.vmid === undefined ? {} : { vmid: options.vmid }), ...(options.type === undefined ? {} : { type: options.type }) });
            const result: PruneResultEntry[] = [];
            for (const { archiveName, volid, ctime, vmid, type, mark } of marked) {
              const partial = (await layout.inProgress(vmid)) === archiveName;
              if (partial) {
                result.push({ volid, ctime, vmid, type, mark: mark === 'protected' ? mark : 'keep', note: 'in progress' });
                continue;
              }
              if (mark === 'remove' && !options.dryRun) {
                options.log?.('info', `removing backup '${volid}'`);
                await rm(layout.dir(archiveName), { recursive: true, force: true });
              }
              result.push({ volid, ctime, vmid, type, mark });
            }
            return result;
          },
        }
      : {}),
    ...(supports.delete
      ? {
          async freeImage(volname: string) {
            const archiveName = archiveOf(volname);
            const dir = await layout.existing(archiveName);
            if (await isProtected(archiveName)) throw new BpError('BP_PROTECTED', `backup ${volname} is protected; remove the protection first`, { details: { volname } });
            await rm(dir, { recursive: true, force: true });
          },
        }
      : {}),
    newBackupProvider: (log) => newBackupProvider(layout, log),
  };
}
