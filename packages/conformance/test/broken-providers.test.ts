// The kit must fail providers that break one behaviour each, naming that behaviour.
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { execa } from 'execa';
import { describe, expect, test } from 'vitest';
import { BpError, formatVolumeId, type BackupStorage, type BackupVolume, type StorageConfig, type VmVolumes } from '@bp/api';
import { dirExamplePlugin, StorageLayout } from '@bp/dir-example';
import { runScenario, scenarioById, type ProviderVariant } from '../src/index.js';
import { breakStorage, type Breakage } from './support/break-provider.js';
import { dirExampleFactory } from './support/dir-factory.js';

/** Lists backups from backupInit on, before they are complete. */
function listsPartialBackups(): Breakage {
  const inProgress = new Map<string, BackupVolume>();
  return {
    provider: (real) => ({
      backupInit: async (vmid, vmtype, startTime) => {
        const result = await real.backupInit(vmid, vmtype, startTime);
        const volid = formatVolumeId('conformance', result.archiveName);
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
}

/** Never discards what it stored on the source. */
function skipsDiscard(): Breakage {
  const noDiscard = (volumes: VmVolumes): VmVolumes =>
    Object.fromEntries(Object.entries(volumes).map(([device, volume]) => [device, volume.mechanism === 'file-handle' ? Object.assign(Object.create(volume) as typeof volume, { discard: async () => {} }) : volume]));
  return { provider: (real) => ({ backupVm: (vmid, config, volumes, info) => real.backupVm(vmid, config, noDiscard(volumes), info) }) };
}

/** Remembers backupInit only in memory, so a fresh instance cannot continue the backup. */
function keepsStateInMemory(): Breakage {
  return {
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
  };
}

/** Copies only the first dirty region of an incremental: the rest of the bitmap is ignored. */
function ignoresDirtyBitmap(): Breakage {
  const firstRegionOnly = (volumes: VmVolumes): VmVolumes =>
    Object.fromEntries(
      Object.entries(volumes).map(([device, volume]) => {
        if (volume.mechanism !== 'file-handle' || volume.bitmapMode !== 'reuse') return [device, volume];
        const dirtyRegions = async function* () {
          for await (const region of volume.dirtyRegions()) {
            yield region;
            return;
          }
        };
        return [device, Object.assign(Object.create(volume) as typeof volume, { dirtyRegions })];
      }),
    );
  return { provider: (real) => ({ backupVm: (vmid, config, volumes, info) => real.backupVm(vmid, config, firstRegionOnly(volumes), info) }) };
}

/** Undoes the chain invalidation after a failure that followed backupVm: the next incremental builds on a base that misses data. */
function buildsOnMissingBase(storage: BackupStorage<StorageConfig>): Breakage {
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
}

/** Throws when handed a log file of a guest it never saw. */
function throwsOnOrphanLog(): Breakage {
  return {
    provider: (real) => ({
      backupHandleLogFile: async () => {
        throw new BpError('BP_NOT_FOUND', 'no backup directory for this log');
      },
      backupCleanup: (vmid, vmtype, success, info) => real.backupCleanup(vmid, vmtype, success, info),
    }),
  };
}

/** Ignores the job's bandwidth limit. */
function ignoresBandwidthLimit(): Breakage {
  return { provider: (real) => ({ backupVm: (vmid, config, volumes, { bandwidthLimit: _ignored, ...info }) => real.backupVm(vmid, config, volumes, info) }) };
}

/** Restores a stored image by converting it with qemu-img, trusting its backing file and data-file. */
function trustsStoredImages(storage: BackupStorage<StorageConfig>): Breakage {
  const converted = new Map<string, string>();
  return {
    provider: (real) => ({
      restoreVmInit: async (volname) => {
        const { path } = await storage.path(volname);
        const images = (await readdir(path)).filter((name) => name.endsWith('.qcow2'));
        const sizes = await Promise.all(
          images.map(async (name) => {
            const { stdout } = await execa('qemu-img', ['info', '--output=json', join(path, name)]);
            return [name.replace(/\.qcow2$/, ''), { size: (JSON.parse(stdout) as { 'virtual-size': number })['virtual-size'] }] as const;
          }),
        );
        return Object.fromEntries(sizes);
      },
      restoreVmVolumeInit: async (volname, device) => {
        const { path } = await storage.path(volname);
        const target = join(await mkdtemp(join(tmpdir(), 'bp-trusting-')), `${device}.raw`);
        await execa('qemu-img', ['convert', '-O', 'raw', join(path, `${device}.qcow2`), target]);
        converted.set(`${volname}/${device}`, target);
        return { qemuImgPath: target };
      },
      restoreVmVolumeCleanup: async (volname, device) => {
        const target = converted.get(`${volname}/${device}`);
        if (target) await rm(dirname(target), { recursive: true, force: true });
        return real.restoreVmVolumeCleanup(volname, device, {}).catch(() => {});
      },
    }),
  };
}

/** Declares no notes support, yet stores notes: the declaration and the behaviour disagree. */
function undeclaredNotes(): Breakage {
  return {
    storage: (real) => ({ plugin: { ...real.plugin, supports: { ...real.plugin.supports, notes: false } } }),
  };
}

interface BrokenCase {
  behaviour: string;
  scenario: string;
  variant: ProviderVariant;
  breakage: (storage: BackupStorage<StorageConfig>) => Breakage;
  message: RegExp;
  /** The declaration the kit is given, when the case changes it. */
  supports?: typeof dirExamplePlugin.supports;
}

const cases: BrokenCase[] = [
  { behaviour: 'lists a backup before it is complete', scenario: 'storage.listed-after-success', variant: {}, breakage: listsPartialBackups, message: /was listed before backupCleanup\(success\)/ },
  { behaviour: 'skips discard', scenario: 'vm.discard-after-read', variant: { vmMechanism: 'file-handle' }, breakage: skipsDiscard, message: /discarded 0 of .*discard after read/ },
  { behaviour: 'keeps state only in memory between entry points', scenario: 'lifecycle.fresh-instances', variant: {}, breakage: keepsStateInMemory, message: /on a fresh provider instance failed; .* keep that state on disk/ },
  { behaviour: 'ignores the dirty bitmap', scenario: 'vm.incremental-generations', variant: { vmMechanism: 'file-handle' }, breakage: ignoresDirtyBitmap, message: /generation \d \(incremental\)\) differs from the source at that point in time/ },
  { behaviour: 'builds an incremental on a missing base (H1)', scenario: 'vm.h1-failure-after-backup-vm', variant: { vmMechanism: 'nbd' }, breakage: buildsOnMissingBase, message: /the incremental after a failure that followed a successful backupVm .* differs/ },
  { behaviour: 'throws in backupHandleLogFile without backupInit', scenario: 'lifecycle.log-without-init', variant: {}, breakage: throwsOnOrphanLog, message: /backupHandleLogFile\(103\) without a preceding backupInit threw/ },
  {
    behaviour: 'ignores the bandwidth limit',
    scenario: 'vm.bandwidth-limit',
    variant: { vmMechanism: 'nbd' },
    breakage: ignoresBandwidthLimit,
    message: /with a bandwidth limit of 4194304 B\/s; at most 10 % above the limit/,
  },
  {
    behaviour: 'trusts backing files and data-files of stored images on restore',
    scenario: 'safety.hostile-restore-inputs',
    variant: {},
    breakage: trustsStoredImages,
    message: /accepted a stored qcow2 whose backing file is .* outside the guest directory/,
  },
  {
    behaviour: 'supports an operation it declares unsupported',
    scenario: 'storage.undeclared-refused',
    variant: {},
    breakage: undeclaredNotes,
    supports: { ...dirExamplePlugin.supports, notes: false },
    message: /updateVolumeAttribute\(notes\) succeeded although the provider does not declare it/,
  },
];

describe('the kit fails broken providers, naming the broken behaviour', () => {
  for (const { behaviour, scenario, variant, breakage, message, supports = dirExamplePlugin.supports } of cases) {
    test(behaviour, async () => {
      const factory = dirExampleFactory((storage) => breakStorage(storage, breakage(storage)));
      await expect(runScenario(scenarioById(scenario), { expect, factory, supports, variant })).rejects.toThrow(message);
    });
  }
});
