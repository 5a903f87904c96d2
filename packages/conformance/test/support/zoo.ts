// The zoo: deliberately broken variants of the reference provider, one plausible bug each. Each
// names the kit scenario (and variant) that must fail it, and what the failure must say.
import { mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { execa } from 'execa';
import {
  BpError,
  formatVolumeId,
  STANDARD_EXCLUDES,
  type BackupStorage,
  type BackupVolume,
  type FileHandleVmVolume,
  type StorageConfig,
  type VmVolume,
  type VmVolumes,
} from '@bp/api';
import { StorageLayout } from '@bp/dir-example';
import type { ProviderVariant } from '../../src/index.js';
import type { Breakage } from './break-provider.js';

/** One bug class of the zoo. */
export interface ZooClass {
  /** Stable name, also the `conformance-zoo` config value that selects it. */
  name: string;
  category: 'vm data' | 'chains and retention' | 'container metadata' | 'storage listing and attributes' | 'lifecycle and failure handling' | 'restore safety';
  /** The broken behaviour, as the README's mutation table lists it. */
  behaviour: string;
  /** The kit scenario that must fail it, and the variant. */
  scenario: string;
  variant: ProviderVariant;
  /** What the failure must say. */
  message: RegExp;
  breakage(storage: BackupStorage<StorageConfig>): Breakage;
}

const KiB = 1024;
const MiB = 1024 * KiB;

function mapVolumes(volumes: VmVolumes, map: (volume: VmVolume) => VmVolume): VmVolumes {
  return Object.fromEntries(Object.entries(volumes).map(([device, volume]) => [device, map(volume)]));
}

/** A file-handle volume whose reads go through `read` (offset, length, buffer slice) first. */
function withReads(volume: VmVolume, read: (position: number, length: number, real: () => Promise<number>, fill: () => number) => Promise<number>): VmVolume {
  if (volume.mechanism !== 'file-handle') return volume;
  const handle = volume.fileHandle;
  const wrapped = Object.create(handle) as typeof handle;
  wrapped.read = (async (buffer: Buffer, offset: number, length: number, position: number) => {
    const bytesRead = await read(
      position,
      length,
      async () => (await handle.read(buffer, offset, length, position)).bytesRead,
      () => {
        buffer.fill(0, offset, offset + length);
        return length;
      },
    );
    return { bytesRead, buffer };
  }) as typeof handle.read;
  return Object.assign(Object.create(volume) as FileHandleVmVolume, { fileHandle: wrapped, dirtyRegions: () => volume.dirtyRegions(), discard: (o: number, l: number) => volume.discard(o, l) });
}

/** The backup directory of a volname. */
async function backupPath(storage: BackupStorage, volname: string): Promise<string> {
  return (await storage.path(volname)).path;
}

function volnameOf(volid: string): string {
  return volid.slice(volid.indexOf(':') + 1);
}

/** A container backup made from a copy of the tree that `copy` made and `mutate` changed: the archive then lacks what the bug loses. */
function fromAlteredTree(copy: readonly string[], mutate?: (tree: string) => Promise<void>): Breakage {
  return {
    provider: (real) => ({
      backupContainer: async (vmid, config, excludes, info) => {
        const dir = await mkdtemp(join(tmpdir(), 'bp-zoo-tree-'));
        try {
          const tree = join(dir, 'root');
          await execa('cp', [...copy, `${info.directory}/.`, tree]);
          await mutate?.(tree);
          return await real.backupContainer(vmid, config, excludes, { ...info, directory: tree });
        } finally {
          await rm(dir, { recursive: true, force: true });
        }
      },
    }),
  };
}

/** Runs `convert` of the stored qcow2 with qemu-img, trusting whatever its header references. */
function trustingRestore(storage: BackupStorage, trust: (image: string) => Promise<boolean>): Breakage {
  const converted = new Map<string, string>();
  return {
    provider: (real) => ({
      restoreVmInit: async (volname) => {
        const dir = await backupPath(storage, volname);
        const images = (await readdir(dir)).filter((name) => name.endsWith('.qcow2'));
        if (!(await Promise.all(images.map((image) => trust(join(dir, image))))).some(Boolean)) return real.restoreVmInit(volname);
        const sizes = await Promise.all(images.map(async (image) => [image.replace(/\.qcow2$/, ''), { size: (await qemuImgInfo(join(dir, image)))['virtual-size'] }] as const));
        return Object.fromEntries(sizes);
      },
      restoreVmVolumeInit: async (volname, device, info) => {
        const image = join(await backupPath(storage, volname), `${device}.qcow2`);
        if (!(await trust(image))) return real.restoreVmVolumeInit(volname, device, info);
        const dir = await mkdtemp(join(tmpdir(), 'bp-zoo-trusting-'));
        await execa('qemu-img', ['convert', '-O', 'raw', image, join(dir, `${device}.raw`)]);
        converted.set(`${volname}/${device}`, dir);
        return { qemuImgPath: join(dir, `${device}.raw`) };
      },
      restoreVmVolumeCleanup: async (volname, device, info) => {
        const dir = converted.get(`${volname}/${device}`);
        converted.delete(`${volname}/${device}`);
        if (dir) await rm(dir, { recursive: true, force: true });
        else await real.restoreVmVolumeCleanup(volname, device, info);
      },
    }),
  };
}

async function qemuImgInfo(image: string): Promise<{ 'virtual-size': number; 'backing-filename'?: string; 'format-specific'?: { data?: { 'data-file'?: string } } }> {
  return JSON.parse((await execa('qemu-img', ['info', '--output=json', '-U', image])).stdout) as never;
}

const volumeDiffersFull = /restore of .* \(full backup\) (differs from the source at that point in time|returned \d+ disks)|restore of .* failed/;
const generationsWrong = /restore of .*(generation \d \(incremental|listed after).*differs from the source at that point in time|restore of .* failed/;
/** A chain member removed without merging shows as a dangling parent in the listing, or as a broken restore. */
const chainBroken = new RegExp(`${generationsWrong.source}|listVolumes reports parent .* which is not an older listed backup`);

/** Every bug class; the self-test runs each against its scenario. */
export const zoo: readonly ZooClass[] = [
  // ── VM data ─────────────────────────────────────────────────────────────
  {
    name: 'vm-size-rounded-to-cluster',
    category: 'vm data',
    behaviour: 'stores each disk with its size rounded down to the 64 KiB qcow2 cluster',
    scenario: 'vm.full-round-trip',
    variant: { vmMechanism: 'file-handle' },
    // A host that announces only allocated regions hands it data past the rounded size: the backup fails.
    message: new RegExp(`${volumeDiffersFull.source}|VM backup of \\d+ failed`),
    breakage: () => ({
      provider: (real) => ({
        backupVm: (vmid, config, volumes, info) => real.backupVm(vmid, config, mapVolumes(volumes, (volume) => Object.assign(Object.create(volume) as VmVolume, { size: Math.floor(volume.size / (64 * KiB)) * 64 * KiB, ...(volume.mechanism === 'file-handle' ? { dirtyRegions: () => volume.dirtyRegions(), discard: (o: number, l: number) => volume.discard(o, l) } : {}) })), info),
      }),
    }),
  },
  {
    name: 'vm-tail-chunk-as-zeros',
    category: 'vm data',
    behaviour: "treats the disk's last partial 4 MiB chunk as a short read and stores zeros there",
    scenario: 'vm.full-round-trip',
    variant: { vmMechanism: 'file-handle' },
    message: volumeDiffersFull,
    breakage: () => ({
      provider: (real) => ({
        backupVm: (vmid, config, volumes, info) =>
          real.backupVm(vmid, config, mapVolumes(volumes, (volume) => withReads(volume, async (position, _length, read, fill) => (position >= Math.floor(volume.size / (4 * MiB)) * 4 * MiB ? fill() : read()))), info),
      }),
    }),
  },
  {
    name: 'vm-disks-swapped-on-restore',
    category: 'vm data',
    behaviour: 'hands out the images of a multi-disk VM in directory order instead of by device',
    scenario: 'vm.full-round-trip',
    variant: { vmMechanism: 'nbd' },
    message: volumeDiffersFull,
    breakage: () => ({
      provider: (real) => ({
        restoreVmVolumeInit: async (volname, device, info) => {
          const devices = Object.keys(await real.restoreVmInit(volname)).sort();
          return real.restoreVmVolumeInit(volname, devices[(devices.indexOf(device) + 1) % devices.length]!, info);
        },
      }),
    }),
  },
  {
    name: 'vm-firewall-dropped',
    category: 'vm data',
    behaviour: "does not store a VM's firewall config (only containers')",
    scenario: 'vm.full-round-trip',
    variant: { vmMechanism: 'nbd' },
    message: /firewall config restored from .* is not the VM's firewall config, verbatim/,
    breakage: () => ({ provider: (real) => ({ backupVm: (vmid, config, volumes, { firewallConfig: _dropped, ...info }) => real.backupVm(vmid, config, volumes, info) }) }),
  },
  {
    name: 'vm-config-comments-dropped',
    category: 'vm data',
    behaviour: "drops the guest config's description (# comment lines) when it hands the config back",
    scenario: 'vm.full-round-trip',
    variant: { vmMechanism: 'file-handle' },
    message: /guest config restored from .* is not the one backed up, verbatim/,
    breakage: () => ({
      provider: (real) => ({
        archiveGetGuestConfig: async (volname) => (await real.archiveGetGuestConfig(volname)).split('\n').filter((line) => !line.startsWith('#') || line.startsWith('#qmdump#')).join('\n'),
      }),
    }),
  },
  {
    name: 'vm-ignores-bandwidth-limit',
    category: 'vm data',
    behaviour: "ignores the job's bandwidth limit for VM disks",
    scenario: 'vm.bandwidth-limit',
    variant: { vmMechanism: 'file-handle' },
    message: /backupVm copied \d+ bytes in \d+ ms with a bandwidth limit of 2097152 B\/s/,
    breakage: () => ({ provider: (real) => ({ backupVm: (vmid, config, volumes, { bandwidthLimit: _ignored, ...info }) => real.backupVm(vmid, config, volumes, info) }) }),
  },
  {
    name: 'vm-skips-discard',
    category: 'vm data',
    behaviour: 'never discards what it stored on the source (discard after read)',
    scenario: 'vm.discard-after-read',
    variant: { vmMechanism: 'file-handle' },
    message: /discarded 0 of .*discard after read/,
    breakage: () => ({
      provider: (real) => ({
        backupVm: (vmid, config, volumes, info) =>
          real.backupVm(vmid, config, mapVolumes(volumes, (volume) => (volume.mechanism === 'file-handle' ? Object.assign(Object.create(volume) as typeof volume, { dirtyRegions: () => volume.dirtyRegions(), discard: async () => {} }) : volume)), info),
      }),
    }),
  },
  // ── chains and retention ────────────────────────────────────────────────
  {
    name: 'chain-first-dirty-extent-only',
    category: 'chains and retention',
    behaviour: 'copies only the first extent of the dirty bitmap into an incremental',
    scenario: 'vm.incremental-generations',
    variant: { vmMechanism: 'file-handle' },
    message: generationsWrong,
    breakage: () => ({
      provider: (real) => ({
        backupVm: (vmid, config, volumes, info) =>
          real.backupVm(
            vmid,
            config,
            mapVolumes(volumes, (volume) => {
              if (volume.mechanism !== 'file-handle' || volume.bitmapMode !== 'reuse') return volume;
              const dirtyRegions = async function* () {
                for await (const region of volume.dirtyRegions()) {
                  yield region;
                  return;
                }
              };
              return Object.assign(Object.create(volume) as typeof volume, { dirtyRegions, discard: (o: number, l: number) => volume.discard(o, l) });
            }),
            info,
          ),
      }),
    }),
  },
  {
    name: 'chain-incrementals-on-the-full',
    category: 'chains and retention',
    behaviour: 'builds every incremental on the last full backup (records the previous image only for fulls)',
    scenario: 'vm.incremental-generations',
    variant: { vmMechanism: 'nbd' },
    message: generationsWrong,
    breakage: (storage) => {
      const layout = new StorageLayout(storage.config.path);
      return {
        provider: (real) => ({
          backupCleanup: async (vmid, vmtype, success, info) => {
            const before = await readFile(layout.previousInfoPath(vmid), 'utf8').catch(() => undefined);
            const result = await real.backupCleanup(vmid, vmtype, success, info);
            if (success && before !== undefined && before.trim() !== '{}') await writeFile(layout.previousInfoPath(vmid), before);
            return result;
          },
        }),
      };
    },
  },
  {
    name: 'chain-h1-missing-base',
    category: 'chains and retention',
    behaviour: 'keeps its chain after a failure that followed backupVm, although QEMU reset the bitmap (H1)',
    scenario: 'vm.h1-failure-after-backup-vm',
    variant: { vmMechanism: 'nbd' },
    message: /the incremental after a failure that followed a successful backupVm .* differs/,
    breakage: (storage) => {
      const layout = new StorageLayout(storage.config.path);
      return {
        provider: (real) => ({
          backupCleanup: async (vmid, vmtype, success, info) => {
            if (success) return real.backupCleanup(vmid, vmtype, success, info);
            const previous = await readFile(layout.previousInfoPath(vmid), 'utf8').catch(() => undefined);
            const result = await real.backupCleanup(vmid, vmtype, success, info);
            if (previous !== undefined) await writeFile(layout.previousInfoPath(vmid), previous);
            return result;
          },
        }),
      };
    },
  },
  {
    name: 'chain-delete-without-merge',
    category: 'chains and retention',
    behaviour: 'deletes a backup in the middle of a chain without merging it into its children',
    scenario: 'vm.incremental-generations',
    variant: { vmMechanism: 'nbd' },
    message: chainBroken,
    breakage: (storage) => ({
      storage: (real) => ({
        freeImage: async (volname) => {
          if ((await real.getVolumeAttribute(volname, 'protected')) === true) throw new BpError('BP_PROTECTED', `${volname} is protected`);
          await rm(await backupPath(storage, volname), { recursive: true, force: true });
        },
      }),
    }),
  },
  {
    name: 'chain-rebase-on-newest-listed',
    category: 'chains and retention',
    behaviour: 'after the newest backup is deleted, bases the next incremental on the newest remaining one (QEMU\'s bitmap counts from the deleted one)',
    scenario: 'vm.incremental-generations',
    variant: { vmMechanism: 'file-handle' },
    message: generationsWrong,
    breakage: (storage) => {
      const layout = new StorageLayout(storage.config.path);
      return {
        storage: (real) => ({
          freeImage: async (volname) => {
            const { vmid } = real.parseVolname(volname);
            await real.freeImage(volname);
            const newest = (await real.listVolumes({ vmid })).at(-1);
            if (!newest) return;
            const dir = await backupPath(real, volnameOf(newest.volid));
            const images = (await readdir(dir)).filter((name) => name.endsWith('.qcow2'));
            await writeFile(layout.previousInfoPath(vmid), JSON.stringify(Object.fromEntries(images.map((image) => [image.replace(/\.qcow2$/, ''), `${basename(dir)}/${image}`]))));
          },
        }),
      };
    },
  },
  {
    name: 'chain-prune-without-merge',
    category: 'chains and retention',
    behaviour: "prunes a chain's base by removing its directory, without merging it into the kept backups",
    scenario: 'vm.incremental-generations',
    variant: { vmMechanism: 'file-handle' },
    message: chainBroken,
    breakage: (storage) => ({
      storage: (real) => ({
        pruneBackups: async (keep, options = {}) => {
          const marks = await real.pruneBackups(keep, { ...options, dryRun: true });
          if (options.dryRun) return marks;
          for (const entry of marks) if (entry.mark === 'remove') await rm(await backupPath(storage, volnameOf(entry.volid)), { recursive: true, force: true });
          return marks;
        },
      }),
    }),
  },
  {
    name: 'chain-parent-newer',
    category: 'chains and retention',
    behaviour: "reports the guest's newest backup as every incremental's parent",
    scenario: 'vm.incremental-generations',
    variant: { vmMechanism: 'nbd' },
    message: /listVolumes reports parent .* which is not an older listed backup/,
    breakage: () => ({
      storage: (real) => ({
        listVolumes: async (filter) => {
          const listed = await real.listVolumes(filter);
          const newest = new Map<number, string>();
          for (const volume of listed) newest.set(volume.vmid, volume.volid);
          return listed.map((volume) => (volume.parent === undefined ? volume : { ...volume, parent: newest.get(volume.vmid)! }));
        },
      }),
    }),
  },
  {
    name: 'prune-ignores-guest',
    category: 'chains and retention',
    behaviour: "prunes every guest's backups when asked for one guest",
    scenario: 'storage.prune',
    variant: {},
    message: /marked backups differently from PVE's prune_mark_backup_group|removed another guest's backup/,
    breakage: () => ({ storage: (real) => ({ pruneBackups: (keep, { vmid: _all, ...options } = {}) => real.pruneBackups(keep, options) }) }),
  },
  {
    name: 'prune-keep-last-only',
    category: 'chains and retention',
    behaviour: 'honours only keep-last and ignores keep-daily/-monthly',
    scenario: 'storage.prune',
    variant: {},
    message: /marked backups differently from PVE's prune_mark_backup_group/,
    breakage: () => ({
      storage: (real) => ({
        pruneBackups: (keep, options) => real.pruneBackups(typeof keep === 'string' ? (keep.split(',').find((part) => part.startsWith('keep-last=')) ?? keep) : keep, options),
      }),
    }),
  },
  {
    name: 'prune-dry-run-removes',
    category: 'chains and retention',
    behaviour: 'removes backups on a dry run',
    scenario: 'storage.prune',
    variant: {},
    message: /pruneBackups with dryRun removed backups/,
    breakage: () => ({ storage: (real) => ({ pruneBackups: (keep, { dryRun: _ignored, ...options } = {}) => real.pruneBackups(keep, options) }) }),
  },
  {
    name: 'prune-removes-protected',
    category: 'chains and retention',
    behaviour: "marks protected backups 'protected' but removes them anyway",
    scenario: 'storage.protected',
    variant: {},
    message: /protected backup .* was removed/,
    breakage: (storage) => ({
      storage: (real) => ({
        pruneBackups: async (keep, options) => {
          const marks = await real.pruneBackups(keep, options);
          if (!options?.dryRun) for (const entry of marks) if (entry.mark === 'protected') await rm(await backupPath(storage, volnameOf(entry.volid)), { recursive: true, force: true });
          return marks;
        },
      }),
    }),
  },
  // ── storage listing and attributes ──────────────────────────────────────
  {
    name: 'lists-partial-backups',
    category: 'storage listing and attributes',
    behaviour: 'lists a backup from backupInit on, before it is complete',
    scenario: 'storage.listed-after-success',
    variant: {},
    message: /was listed before backupCleanup\(success\)/,
    breakage: (storage) => {
      const inProgress = new Map<string, BackupVolume>();
      return {
        provider: (real) => ({
          backupInit: async (vmid, vmtype, startTime) => {
            const result = await real.backupInit(vmid, vmtype, startTime);
            const volid = formatVolumeId(storage.storeId, result.archiveName);
            inProgress.set(volid, { volid, vmid, format: 'directory', ctime: startTime, size: 1, subtype: vmtype, content: 'backup' });
            return result;
          },
          backupCleanup: async (vmid, vmtype, success, info) => {
            for (const [volid, volume] of inProgress) if (volume.vmid === vmid) inProgress.delete(volid);
            return real.backupCleanup(vmid, vmtype, success, info);
          },
        }),
        storage: (real) => ({
          listVolumes: async (filter) => [...(await real.listVolumes(filter)), ...[...inProgress.values()].filter((v) => filter?.vmid === undefined || v.vmid === filter.vmid)],
        }),
      };
    },
  },
  {
    name: 'ctime-from-wall-clock',
    category: 'storage listing and attributes',
    behaviour: "names and dates a backup by the wall clock instead of backupInit's start time",
    scenario: 'storage.listed-after-success',
    variant: {},
    message: /has wrong vmid\/subtype\/content\/ctime/,
    breakage: () => ({ provider: (real) => ({ backupInit: (vmid, vmtype) => real.backupInit(vmid, vmtype, Math.floor(Date.now() / 1000)) }) }),
  },
  {
    name: 'size-info-ctime-from-mtime',
    category: 'storage listing and attributes',
    behaviour: "volumeSizeInfo reports the directory's mtime as ctime, disagreeing with listVolumes",
    scenario: 'storage.listed-after-success',
    variant: {},
    message: /volumeSizeInfo\(.*\) disagrees with listVolumes on size\/ctime/,
    breakage: (storage) => ({
      storage: (real) => ({
        volumeSizeInfo: async (volname) => ({ ...(await real.volumeSizeInfo(volname)), ctime: Math.floor((await stat(await backupPath(storage, volname))).mtimeMs / 1000) }),
      }),
    }),
  },
  {
    name: 'vmid-filter-by-prefix',
    category: 'storage listing and attributes',
    behaviour: 'filters listVolumes by the text of the guest ID (300 matches 3000)',
    scenario: 'storage.listed-after-success',
    variant: {},
    message: /listVolumes\(\{ vmid: 300 \}\) must return only guest 300's backup/,
    breakage: () => ({
      storage: (real) => ({
        listVolumes: async (filter) => (await real.listVolumes()).filter((volume) => filter?.vmid === undefined || String(volume.vmid).startsWith(String(filter.vmid))),
      }),
    }),
  },
  {
    name: 'listing-unsorted',
    category: 'storage listing and attributes',
    behaviour: 'lists backups newest first instead of sorted by volid',
    scenario: 'storage.prune',
    variant: {},
    message: /listVolumes must return backups sorted by volid/,
    breakage: () => ({ storage: (real) => ({ listVolumes: async (filter) => (await real.listVolumes(filter)).reverse() }) }),
  },
  {
    name: 'notes-trimmed',
    category: 'storage listing and attributes',
    behaviour: 'trims whitespace off the notes it stores',
    scenario: 'storage.notes',
    variant: {},
    message: /did not return the notes verbatim/,
    breakage: () => ({ storage: (real) => ({ updateVolumeAttribute: (volname, attribute, value) => real.updateVolumeAttribute(volname, attribute, typeof value === 'string' ? value.trim() : value) }) }),
  },
  {
    name: 'protection-in-memory',
    category: 'storage listing and attributes',
    behaviour: 'keeps the protected flag in the storage object instead of with the backup',
    scenario: 'storage.protected',
    variant: {},
    message: /after reopening the storage .* is no longer protected/,
    breakage: () => {
      const protectedVolnames = new Set<string>();
      return {
        storage: (real) => ({
          updateVolumeAttribute: async (volname, attribute, value) => {
            if (attribute !== 'protected') return real.updateVolumeAttribute(volname, attribute, value);
            if (value) protectedVolnames.add(volname);
            else protectedVolnames.delete(volname);
          },
          getVolumeAttribute: async (volname, attribute) => (attribute === 'protected' ? protectedVolnames.has(volname) : real.getVolumeAttribute(volname, attribute)),
          listVolumes: async (filter) => (await real.listVolumes(filter)).map((volume) => ({ ...volume, protected: protectedVolnames.has(volnameOf(volume.volid)) })),
          freeImage: async (volname) => {
            if (protectedVolnames.has(volname)) throw new BpError('BP_PROTECTED', `${volname} is protected`);
            return real.freeImage(volname);
          },
        }),
      };
    },
  },
  {
    name: 'deletes-protected',
    category: 'storage listing and attributes',
    behaviour: 'deletes a protected backup on freeImage',
    scenario: 'storage.protected',
    variant: {},
    message: /freeImage\(.*\) deleted a protected backup/,
    breakage: () => ({
      storage: (real) => ({
        freeImage: async (volname) => {
          await real.updateVolumeAttribute(volname, 'protected', false);
          return real.freeImage(volname);
        },
      }),
    }),
  },
  {
    name: 'undeclared-notes-supported',
    category: 'storage listing and attributes',
    behaviour: 'declares no notes support, yet stores notes',
    scenario: 'storage.undeclared-refused',
    variant: {},
    message: /updateVolumeAttribute\(notes\) succeeded although the provider does not declare it/,
    breakage: () => ({ plugin: (plugin) => ({ supports: { ...plugin.supports, notes: false } }) }),
  },
  // ── container metadata ──────────────────────────────────────────────────
  {
    name: 'ct-archive-without-xattrs',
    category: 'container metadata',
    behaviour: 'archives without xattrs and ACLs (tar without --xattrs --acls)',
    scenario: 'container.round-trip',
    variant: { containerFormat: 'tar' },
    message: /the restored tree of .* differs from the container/,
    breakage: () => fromAlteredTree(['-dR', '--preserve=mode,ownership,timestamps,links']),
  },
  {
    name: 'ct-squashfs-without-acls',
    category: 'container metadata',
    behaviour: 'drops POSIX ACLs from squashfs archives (squashfs stores none; the side record is missing)',
    scenario: 'container.round-trip',
    variant: { containerFormat: 'squashfs' },
    message: /the restored tree of .* differs from the container/,
    breakage: () => fromAlteredTree(['-a'], (tree) => execa('setfacl', ['-R', '-P', '-b', '-k', tree]).then(() => {})),
  },
  {
    name: 'ct-clears-setuid',
    category: 'container metadata',
    behaviour: 'loses setuid/setgid bits',
    scenario: 'container.round-trip',
    variant: { containerFormat: 'tar' },
    message: /the restored tree of .* differs from the container/,
    breakage: () => fromAlteredTree(['-a'], (tree) => execa('find', [tree, '-type', 'f', '-perm', '/6000', '-exec', 'chmod', 'ug-s', '{}', '+']).then(() => {})),
  },
  {
    name: 'ct-breaks-hard-links',
    category: 'container metadata',
    behaviour: 'stores hard links as separate copies',
    scenario: 'container.round-trip',
    variant: { containerFormat: 'squashfs' },
    message: /the restored tree of .* differs from the container/,
    breakage: () => fromAlteredTree(['-a', '--no-preserve=links']),
  },
  {
    name: 'ct-ignores-job-excludes',
    category: 'container metadata',
    behaviour: "applies only PVE's standard excludes and drops the job's exclude-path patterns (checked in the mapped-uid child, which re-imports the plugin)",
    scenario: 'container.mapped-uid',
    variant: { containerFormat: 'squashfs' },
    message: /the restored tree of .* backed up as mapped uid 100000\) differs from the container/,
    breakage: () => ({ provider: (real) => ({ backupContainer: (vmid, config, excludes, info) => real.backupContainer(vmid, config, excludes.filter((pattern) => STANDARD_EXCLUDES.includes(pattern)), info) }) }),
  },
  {
    name: 'ct-config-trimmed',
    category: 'container metadata',
    behaviour: "hands pct.conf back without its final newline",
    scenario: 'container.round-trip',
    variant: { containerFormat: 'tar' },
    message: /archiveGetGuestConfig\(.*\) did not return pct.conf verbatim/,
    breakage: () => ({ provider: (real) => ({ archiveGetGuestConfig: async (volname) => (await real.archiveGetGuestConfig(volname)).trimEnd() }) }),
  },
  {
    name: 'ct-ignores-bandwidth-limit',
    category: 'container metadata',
    behaviour: 'ignores the bandwidth limit for squashfs archives',
    scenario: 'container.bandwidth-limit',
    variant: { containerFormat: 'squashfs' },
    message: /backupContainer \(squashfs format\) archived \d+ bytes in \d+ ms with a bandwidth limit/,
    breakage: () => ({ provider: (real) => ({ backupContainer: (vmid, config, excludes, { bandwidthLimit: _ignored, ...info }) => real.backupContainer(vmid, config, excludes, info) }) }),
  },
  {
    name: 'ct-firewall-dropped',
    category: 'container metadata',
    behaviour: "does not store a container's firewall config",
    scenario: 'lifecycle.fresh-instances',
    variant: {},
    message: /archiveGetFirewallConfig\(.*\) on a fresh instance did not return the firewall config verbatim/,
    breakage: () => ({ provider: (real) => ({ backupContainer: (vmid, config, excludes, info) => real.backupContainer(vmid, config, excludes, { ...info, firewallConfig: '' }) }) }),
  },
  // ── lifecycle and failure handling ──────────────────────────────────────
  {
    name: 'state-in-memory',
    category: 'lifecycle and failure handling',
    behaviour: 'remembers backupInit only in memory, so the forked backupContainer cannot continue',
    scenario: 'lifecycle.fresh-instances',
    variant: {},
    message: /on a fresh provider instance failed; .* keep that state on disk/,
    breakage: () => ({
      provider: (real) => {
        const initialized = new Set<number>();
        return {
          backupInit: async (vmid, vmtype, startTime) => {
            initialized.add(vmid);
            return real.backupInit(vmid, vmtype, startTime);
          },
          backupContainer: async (vmid, config, excludes, info) => {
            if (!initialized.has(vmid)) throw new BpError('BP_BACKUP_FAILED', `no backupInit for guest ${vmid} in this instance`);
            return real.backupContainer(vmid, config, excludes, info);
          },
        };
      },
    }),
  },
  {
    name: 'orphan-log-throws',
    category: 'lifecycle and failure handling',
    behaviour: 'throws when handed the log of a guest it never saw (aborts the job, H3)',
    scenario: 'lifecycle.log-without-init',
    variant: {},
    message: /backupHandleLogFile\(103\) without a preceding backupInit threw/,
    breakage: () => ({
      provider: () => ({
        backupHandleLogFile: async () => {
          throw new BpError('BP_NOT_FOUND', 'no backup directory for this log');
        },
      }),
    }),
  },
  {
    name: 'cleanup-without-init-throws',
    category: 'lifecycle and failure handling',
    behaviour: 'throws in backupCleanup(false) for a guest that failed before backupInit',
    scenario: 'lifecycle.cleanup-without-init',
    variant: {},
    message: /backupCleanup\(101, 'qemu', false\) without a preceding backupInit threw/,
    breakage: () => ({
      provider: (real) => {
        const started = new Set<number>();
        return {
          backupInit: async (vmid, vmtype, startTime) => {
            started.add(vmid);
            return real.backupInit(vmid, vmtype, startTime);
          },
          backupCleanup: async (vmid, vmtype, success, info) => {
            if (!started.has(vmid)) throw new BpError('BP_NOT_FOUND', `no backup of guest ${vmid} in progress`);
            return real.backupCleanup(vmid, vmtype, success, info);
          },
        };
      },
    }),
  },
  {
    name: 'second-cleanup-throws',
    category: 'lifecycle and failure handling',
    behaviour: 'throws on backupCleanup(false) after a successful backupCleanup(true)',
    scenario: 'lifecycle.cleanup-twice',
    variant: {},
    message: /backupCleanup\(204, 'lxc', false\) after a successful backupCleanup\(true\) threw/,
    breakage: () => ({
      provider: (real) => {
        const published = new Set<number>();
        return {
          backupCleanup: async (vmid, vmtype, success, info) => {
            if (!success && published.has(vmid)) throw new BpError('BP_BACKUP_FAILED', `backup of guest ${vmid} is already published`);
            const result = await real.backupCleanup(vmid, vmtype, success, info);
            if (success) published.add(vmid);
            return result;
          },
        };
      },
    }),
  },
  {
    name: 'read-errors-as-zeros',
    category: 'lifecycle and failure handling',
    behaviour: 'treats failing source reads as zeros instead of failing the backup',
    scenario: 'safety.source-read-fault',
    variant: { vmMechanism: 'file-handle' },
    message: /the backup succeeded although reads of the source export failed/,
    breakage: () => ({
      provider: (real) => ({
        backupVm: (vmid, config, volumes, info) => real.backupVm(vmid, config, mapVolumes(volumes, (volume) => withReads(volume, (_position, _length, read, fill) => read().catch(() => fill()))), info),
      }),
    }),
  },
  {
    name: 'restore-views-leaked',
    category: 'lifecycle and failure handling',
    behaviour: 'never stops the raw view a VM restore reads from (processes, mounts and temp files stay)',
    scenario: 'vm.full-round-trip',
    variant: { vmMechanism: 'nbd' },
    message: /the scenario left .* behind/,
    breakage: () => ({ provider: () => ({ restoreVmVolumeCleanup: async () => {}, restoreVmCleanup: async () => {} }) }),
  },
  {
    name: 'module-ref-wrong-export',
    category: 'lifecycle and failure handling',
    behaviour: "names an export in moduleRef that is no plugin (the container child cannot load the provider)",
    scenario: 'factory.declaration',
    variant: {},
    message: /moduleRef names export 'zooPlugins' .* which is not a storage plugin/,
    breakage: () => ({ plugin: (plugin) => ({ moduleRef: { ...plugin.moduleRef, exportName: 'zooPlugins' } }) }),
  },
  // ── restore safety ──────────────────────────────────────────────────────
  {
    name: 'restore-trusts-backing-file',
    category: 'restore safety',
    behaviour: 'restores a stored image by converting it, trusting its backing file and data-file',
    scenario: 'safety.hostile-restore-inputs',
    variant: {},
    message: /accepted a stored qcow2 whose backing file is .* outside the guest directory/,
    breakage: (storage) => trustingRestore(storage, async () => true),
  },
  {
    name: 'restore-trusts-data-file',
    category: 'restore safety',
    behaviour: 'validates backing files of stored images but not external data-files',
    scenario: 'safety.hostile-restore-inputs',
    variant: {},
    message: /accepted a stored qcow2 with an external data-file/,
    breakage: (storage) => trustingRestore(storage, async (image) => (await qemuImgInfo(image))['format-specific']?.data?.['data-file'] !== undefined),
  },
  {
    name: 'volname-traversal',
    category: 'restore safety',
    behaviour: "accepts any volume name below 'backup/' in parseVolname and path (../ leaves the storage)",
    scenario: 'safety.hostile-volnames',
    variant: {},
    message: /(parseVolname|path)\(.*\) (accepted|returned a path for) a volume name that is not a backup of this storage/,
    breakage: (storage) => ({
      storage: () => ({
        parseVolname: (volname) => {
          const match = /^backup\/(\d+)\//.exec(volname);
          if (!match) throw new BpError('BP_INVALID_VOLUME_ID', `${volname} is no backup volume`);
          return { vtype: 'backup', vmid: Number(match[1]), name: volname.slice('backup/'.length) } as never;
        },
        path: async (volname) => ({ path: join(storage.config.path, volname.slice('backup/'.length)), vmid: 0, vtype: 'backup' as const }),
      }),
    }),
  },
];
