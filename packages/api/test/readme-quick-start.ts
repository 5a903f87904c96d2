import { mkdir, open, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { BpError, defineProvider, defineStoragePlugin, formatArchiveName, parseArchiveName, parseVolname, storageConfigSchema } from '@bp/api';
import type { BackupStoragePlugin, StorageConfig, StorageSupports } from '@bp/api';

const supports: StorageSupports = { vmMechanisms: ['file-handle'], incremental: false, containerFormats: [], notes: false, protected: false, prune: false, delete: true, verify: false };

/** Full VM backups as raw images in `<path>/<vmid>/qemu-<time>/`, published by rename when complete. */
export const rawDirPlugin: BackupStoragePlugin<StorageConfig> = defineStoragePlugin({
  type: 'raw-dir',
  configSchema: storageConfigSchema,
  supports,
  moduleRef: { module: 'raw-dir-provider', exportName: 'rawDirPlugin' },
  open(storeId, config) {
    const dirOf = (archiveName: string) => join(config.path, archiveName);
    const existing = async (volname: string) => {
      const dir = dirOf(parseVolname(volname).archiveName);
      if (!(await stat(dir).catch(() => undefined))) throw new BpError('BP_NOT_FOUND', `backup ${volname} does not exist`);
      return dir;
    };
    const archives = async (vmid?: number) =>
      (await readdir(config.path, { recursive: true })).filter((name) => /^\d+\/qemu-[^/]+Z$/.test(name) && (vmid === undefined || name.startsWith(`${vmid}/`)));
    const volume = async (archiveName: string) => {
      const { vmid, time } = parseArchiveName(archiveName);
      const images = (await readdir(dirOf(archiveName))).filter((name) => name.endsWith('.raw'));
      const sizes = await Promise.all(images.map(async (name) => (await stat(join(dirOf(archiveName), name))).size));
      return { volid: `${storeId}:backup/${archiveName}`, vmid, format: 'raw', ctime: time, size: sizes.reduce((a, b) => a + b, 0), subtype: 'qemu' as const, content: 'backup' as const };
    };
    return {
      parseVolname: (volname) => ({ vtype: 'backup', name: parseVolname(volname).archiveName, vmid: parseArchiveName(parseVolname(volname).archiveName).vmid }),
      path: async (volname) => ({ path: await existing(volname), vmid: parseArchiveName(parseVolname(volname).archiveName).vmid, vtype: 'backup' }),
      listVolumes: async (filter = {}) => Promise.all((await archives(filter.vmid)).sort().map(volume)),
      volumeSizeInfo: async (volname) => {
        const { size, ctime } = await volume(parseVolname(volname).archiveName);
        return { size, format: 'raw', used: size, ctime };
      },
      status: async () => ({ total: 0, used: 0, available: 0, active: true }),
      freeImage: async (volname) => rm(await existing(volname), { recursive: true }),
      newBackupProvider: () =>
        defineProvider(supports, {
          name: 'raw-dir',
          async backupInit(vmid, vmtype, startTime) {
            const archiveName = formatArchiveName({ vmid, vmtype, time: startTime });
            await mkdir(`${dirOf(archiveName)}.partial`, { recursive: true });
            return { archiveName };
          },
          async backupCleanup(vmid, _vmtype, success) {
            for (const name of await readdir(join(config.path, String(vmid))).catch(() => [])) {
              const partial = join(config.path, String(vmid), name);
              if (!name.endsWith('.partial')) continue;
              if (success) await rename(partial, partial.slice(0, -'.partial'.length)); // visible only when complete
              else await rm(partial, { recursive: true, force: true });
            }
            return {};
          },
          async backupVm(vmid, guestConfig, volumes) {
            const [partial] = (await readdir(join(config.path, String(vmid)))).filter((name) => name.endsWith('.partial'));
            const dir = join(config.path, String(vmid), partial ?? '');
            for (const [device, source] of Object.entries(volumes)) {
              if (source.mechanism !== 'file-handle') throw new BpError('BP_NOT_SUPPORTED', 'file-handle only');
              const target = await open(join(dir, `${device}.raw`), 'w');
              await target.truncate(source.size);
              for await (const { offset, length } of source.dirtyRegions()) {
                const { buffer, bytesRead } = await source.fileHandle.read(Buffer.alloc(length), 0, length, offset);
                await target.write(buffer, 0, bytesRead, offset);
              }
              await target.close();
            }
            await writeFile(join(dir, 'guest.conf'), guestConfig);
          },
          restoreGetMechanism: async () => ({ mechanism: 'qemu-img', vmtype: 'qemu' }),
          archiveGetGuestConfig: async (volname) => readFile(join(await existing(volname), 'guest.conf'), 'utf8'),
          async restoreVmInit(volname) {
            const dir = await existing(volname);
            const images = (await readdir(dir)).filter((name) => name.endsWith('.raw'));
            return Object.fromEntries(await Promise.all(images.map(async (name) => [name.slice(0, -4), { size: (await stat(join(dir, name))).size }])));
          },
          restoreVmVolumeInit: async (volname, device) => ({ qemuImgPath: join(await existing(volname), `${device}.raw`) }),
        }),
    };
  },
});
