import { constants } from 'node:fs';
import { copyFile, open, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { BpError, defineProvider, parseVolname, type BackupProvider, type BackupVmInfo, type FileHandleVmVolume, type LogFunction, type StorageConfig } from '@bp/api';
import { exists, FILES, type Layout } from './layout.js';
import { finishBackup, markDataDone } from './session.js';
import { supports } from './supports.js';

const CHUNK = 1024 * 1024;
/** Per guest: the backup QEMU's dirty bitmap is relative to (the last published one). */
const BITMAP_BASE = 'bitmap-base';

async function bitmapBase(layout: Layout, vmid: number): Promise<string | undefined> {
  const name = (await readFile(join(layout.guestDir(vmid), BITMAP_BASE), 'utf8').catch(() => '')).trim();
  return name !== '' && (await exists(layout.dir(name))) ? name : undefined;
}

/**
 * Copies the dirty regions of a file-handle volume into `target` (a copy of the base image for an
 * incremental, a sparse new file otherwise), discarding each chunk on the source once written and
 * keeping under `info.bandwidthLimit` bytes per second.
 */
async function copyVolume(volume: FileHandleVmVolume, target: string, info: BackupVmInfo, incremental: boolean): Promise<void> {
  const output = await open(target, incremental ? 'r+' : 'w');
  try {
    if (!incremental) await output.truncate(volume.size);
    const buffer = Buffer.alloc(CHUNK);
    const limit = info.bandwidthLimit ?? 0;
    const started = Date.now();
    let copied = 0;
    for await (const region of volume.dirtyRegions()) {
      for (let offset = region.offset; offset < region.offset + region.length; offset += CHUNK) {
        info.signal?.throwIfAborted();
        const length = Math.min(CHUNK, region.offset + region.length - offset);
        let done = 0;
        while (done < length) {
          const { bytesRead } = await volume.fileHandle.read(buffer, done, length - done, offset + done);
          if (bytesRead === 0) throw new BpError('BP_BACKUP_FAILED', `unexpected end of the disk at byte ${offset + done}`);
          done += bytesRead;
        }
        // A full backup keeps zeroes sparse; an incremental must overwrite what the base held.
        if (incremental || buffer.subarray(0, length).some((byte) => byte !== 0)) await output.write(buffer, 0, length, offset);
        await volume.discard(offset, length);
        copied += length;
        const ahead = limit > 0 ? (copied / limit) * 1000 - (Date.now() - started) : 0;
        if (ahead > 0) await sleep(ahead);
      }
    }
    await output.sync();
  } finally {
    await output.close();
  }
}

/** The VM provider: one raw image per disk, incrementals start from a copy of the previous backup. */
export function createProvider(layout: Layout, config: StorageConfig, log: LogFunction): BackupProvider {
  const current = async (vmid: number): Promise<string> => {
    const archiveName = await layout.inProgress(vmid, 'qemu');
    if (archiveName === undefined) throw new BpError('BP_PROVIDER_FAILED', `no backup of VM ${vmid} in progress; backupInit comes first`);
    return archiveName;
  };
  const images = async (archiveName: string): Promise<string[]> => (await readdir(await layout.existing(archiveName))).filter((name) => name.endsWith('.raw'));
  return defineProvider(supports, {
    name: '__NAME__',
    backupInit: async (vmid, vmtype, startTime) => ({ archiveName: await layout.begin(vmid, vmtype, startTime) }),
    backupCleanup: (vmid, vmtype, success) =>
      finishBackup(layout, vmid, vmtype, success, {
        onPublished: async (archiveName) => {
          if (archiveName.includes('/qemu-')) await writeFile(join(layout.guestDir(vmid), BITMAP_BASE), `${archiveName}\n`);
        },
        // H1: QEMU reset the bitmap when backupVm returned; without a base the next backup is full.
        onFailureAfterData: () => rm(join(layout.guestDir(vmid), BITMAP_BASE), { force: true }),
      }),
    async backupVmQueryIncremental(vmid, devices) {
      if (config['vm-backup-mode'] === 'full') return undefined;
      const base = await bitmapBase(layout, vmid);
      const answers: Record<string, 'use' | 'new'> = {};
      for (const [device, { size }] of Object.entries(devices)) {
        const image = base === undefined ? undefined : await stat(join(layout.dir(base), `${device}.raw`)).catch(() => undefined);
        answers[device] = image?.size === size ? 'use' : 'new';
      }
      return answers;
    },
    async backupVm(vmid, guestConfig, volumes, info) {
      const archiveName = await current(vmid);
      const dir = layout.partialDir(archiveName);
      const base = await bitmapBase(layout, vmid);
      for (const [device, volume] of Object.entries(volumes)) {
        if (volume.mechanism !== 'file-handle') throw new BpError('BP_NOT_SUPPORTED', `${device}: only the file-handle mechanism is implemented`);
        const target = join(dir, `${device}.raw`);
        const incremental = volume.bitmapMode === 'reuse';
        if (incremental) {
          if (base === undefined) throw new BpError('BP_CHAIN_BROKEN', `${device}: QEMU reuses a bitmap but the base backup is gone`);
          await copyFile(join(layout.dir(base), `${device}.raw`), target, constants.COPYFILE_FICLONE);
        }
        await copyVolume(volume, target, info, incremental);
        log('info', `${device}: ${incremental ? `changes since ${base}` : 'full image'} stored`);
      }
      await writeFile(join(dir, FILES.guestConfig), guestConfig);
      if (info.firewallConfig !== undefined) await writeFile(join(dir, FILES.firewallConfig), info.firewallConfig);
      await markDataDone(layout, archiveName);
    },
    restoreGetMechanism: async (volname) => {
      await layout.existing(parseVolname(volname).archiveName); // refuses names that are not backups here
      return { mechanism: 'qemu-img', vmtype: 'qemu' };
    },
    archiveGetGuestConfig: async (volname) => readFile(join(await layout.existing(parseVolname(volname).archiveName), FILES.guestConfig), 'utf8'),
    archiveGetFirewallConfig: async (volname) => layout.readText(parseVolname(volname).archiveName, FILES.firewallConfig),
    async restoreVmInit(volname) {
      const { archiveName } = parseVolname(volname);
      const sizes: Record<string, { size: number }> = {};
      for (const image of await images(archiveName)) sizes[image.slice(0, -'.raw'.length)] = { size: (await stat(join(layout.dir(archiveName), image))).size };
      return sizes;
    },
    async restoreVmVolumeInit(volname, device) {
      const { archiveName } = parseVolname(volname);
      if (!(await images(archiveName)).includes(`${device}.raw`)) throw new BpError('BP_NOT_FOUND', `backup ${volname} holds no disk ${device}`);
      return { qemuImgPath: join(layout.dir(archiveName), `${device}.raw`) };
    },
  });
}
