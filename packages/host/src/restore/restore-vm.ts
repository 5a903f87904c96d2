import { access, rm } from 'node:fs/promises';
import { join } from 'node:path';
import {
  BpError,
  parseQmdumpMap,
  parseWithSchema,
  restoreVmInitResultSchema,
  restoreVmVolumeExportResultSchema,
  restoreVmVolumeInitResultSchema,
  type BackupStorage,
  type LogFunction,
} from '@bp/api';
import { checkNbdSource, checkUntrustedRawSource, convertRawInto, createImage } from './qemu-img.js';
import { checkedRestoreMechanism, errorMessage, freshProvider, resolveBackupVolume, restoreError } from './restore-source.js';

/** Options of {@link restoreVm}. */
export interface RestoreVmOptions {
  storage: BackupStorage;
  /** `<storeid>:backup/<archive-name>`. */
  volid: string;
  /** Existing directory the disk images are created in (`<virtdev>.<format>`). */
  targetDir: string;
  /** Target format of every disk; default the map line's format (`qcow2`, else raw). */
  format?: 'raw' | 'qcow2';
  /** KiB/s, applied by `qemu-img convert -r` (not passed to the provider, as in PVE). */
  bwlimitKiB?: number;
  log?: LogFunction;
  /** Per-device copy progress in percent. */
  onProgress?: (device: string, percent: number) => void;
  /**
   * bp itself is the host (no PVE to stand in for), so the fastest correct way is taken: a device
   * is read from the provider's NBD export where it offers one (`restoreVmVolumeExport`) instead
   * of its raw file view, and written with O_DIRECT and out-of-order writes where the target's
   * file system allows (`qemu-img convert -t none -W`). Default false: exactly PVE's calls.
   */
  standalone?: boolean;
  signal?: AbortSignal;
}

/** One restored disk. */
export interface RestoredDisk {
  /** Config key, e.g. `scsi0`. */
  virtdev: string;
  /** Backup device name, e.g. `drive-scsi0`. */
  device: string;
  path: string;
  format: 'raw' | 'qcow2';
  /** Virtual size in bytes as the provider reported it. */
  size: number;
}

/** The result of {@link restoreVm}. */
export interface RestoredVm {
  /** The guest config verbatim, with its `#qmdump#map` lines. */
  config: string;
  /** The firewall config, when the backup has a non-empty one. */
  firewallConfig?: string;
  /** In virtdev order. */
  disks: RestoredDisk[];
}

interface PlannedDisk extends RestoredDisk {
  created: boolean;
}

/**
 * Restores a VM backup as qmrestore does with a provider (spec 1.4): an early config check on a
 * second provider instance (failure only warns), then on the first one `restoreGetMechanism`
 * (`qemu-img`, `qemu`), `restoreVmInit`, `archiveGetGuestConfig`, `archiveGetFirewallConfig`; every
 * `#qmdump#map` device must be in the archive; target images are created, then per virtdev
 * (sorted) `restoreVmVolumeInit` -> untrusted raw check -> `qemu-img convert` ->
 * `restoreVmVolumeCleanup`; `restoreVmCleanup` always. On failure the created images are removed.
 * With `standalone`, `restoreVmVolumeExport` replaces `restoreVmVolumeInit` where the provider has it.
 */
export async function restoreVm(options: RestoreVmOptions): Promise<RestoredVm> {
  const { storage, signal } = options;
  const log: LogFunction = options.log ?? (() => {});
  const { volname } = resolveBackupVolume(storage, options.volid);
  try {
    await access(options.targetDir);
  } catch (error) {
    throw new BpError('BP_NOT_FOUND', `restore target directory '${options.targetDir}' does not exist; create it first`, { cause: error });
  }

  const provider = freshProvider(storage, log); // object #1, used for the restore
  try {
    await freshProvider(storage, log).archiveGetGuestConfig(volname); // object #2: early check
  } catch (error) {
    log('warn', `Could not extract backed up config: ${errorMessage(error)} - Skipping early checks!`);
  }

  const disks: PlannedDisk[] = [];
  let failure: unknown;
  let config = '';
  let firewallConfig: string | undefined;
  try {
    signal?.throwIfAborted();
    await checkedRestoreMechanism(provider, volname, 'qemu', ['qemu-img']);
    const devices = parseWithSchema(restoreVmInitResultSchema, await provider.restoreVmInit(volname), 'restoreVmInit result');
    config = await provider.archiveGetGuestConfig(volname);
    if (typeof config !== 'string' || config === '') {
      throw new BpError('BP_PROVIDER_FAILED', `backup provider returned no guest configuration for '${volname}'`);
    }
    const firewall = await provider.archiveGetFirewallConfig(volname);
    if (firewall) firewallConfig = firewall;

    const byVirtdev = new Map(parseQmdumpMap(config).map((entry) => [entry.virtdev, entry]));
    for (const virtdev of [...byVirtdev.keys()].sort()) {
      const entry = byVirtdev.get(virtdev)!;
      const device = devices[entry.device];
      if (!device) throw new BpError('BP_RESTORE_FAILED', `archive does not contain data for drive '${virtdev}'`, { details: { virtdev, device: entry.device } });
      const format = options.format ?? (entry.format === 'qcow2' ? 'qcow2' : 'raw');
      disks.push({ virtdev, device: entry.device, path: join(options.targetDir, `${virtdev}.${format}`), format, size: device.size, created: false });
    }
    for (const disk of disks) {
      if (await access(disk.path).then(() => true, () => false)) {
        throw new BpError('BP_ALREADY_EXISTS', `restore target '${disk.path}' already exists; remove it or choose another target directory`);
      }
    }
    for (const disk of disks) {
      await createImage(disk.path, disk.format, disk.size, signal);
      disk.created = true;
    }
    for (const disk of disks) await restoreDisk(options, provider, volname, disk, log);
  } catch (error) {
    failure = error;
  }

  try {
    await provider.restoreVmCleanup(volname);
  } catch (error) {
    log('warn', `restore cleanup failed: ${errorMessage(error)}`);
  }
  if (failure !== undefined) {
    for (const disk of disks) if (disk.created) await rm(disk.path, { force: true }).catch(() => {});
    throw restoreError(failure, `restore of '${options.volid}'`);
  }
  return {
    config,
    ...(firewallConfig !== undefined ? { firewallConfig } : {}),
    disks: disks.map(({ created: _created, ...disk }) => disk),
  };
}

/** Where a device's raw bytes are read from: the provider's file view, or its NBD export. */
async function openRestoreSource(
  provider: ReturnType<typeof freshProvider>,
  volname: string,
  device: string,
  standalone: boolean,
): Promise<{ kind: 'file' | 'nbd'; location: string }> {
  if (standalone && provider.restoreVmVolumeExport) {
    const { nbdUri } = parseWithSchema(restoreVmVolumeExportResultSchema, await provider.restoreVmVolumeExport(volname, device), `restoreVmVolumeExport result for ${device}`);
    return { kind: 'nbd', location: nbdUri };
  }
  const { qemuImgPath } = parseWithSchema(restoreVmVolumeInitResultSchema, await provider.restoreVmVolumeInit(volname, device, {}), `restoreVmVolumeInit result for ${device}`);
  return { kind: 'file', location: qemuImgPath };
}

async function restoreDisk(
  options: RestoreVmOptions,
  provider: ReturnType<typeof freshProvider>,
  volname: string,
  disk: PlannedDisk,
  log: LogFunction,
): Promise<void> {
  options.signal?.throwIfAborted();
  const standalone = options.standalone ?? false;
  const source = await openRestoreSource(provider, volname, disk.device, standalone);
  let converted = false;
  let copyError: unknown;
  try {
    if (source.kind === 'file') await checkUntrustedRawSource(source.location);
    else await checkNbdSource(source.location);
    log('info', `restoring '${disk.device}' to '${disk.path}'`);
    await convertRawInto(source.location, disk.path, disk.format, {
      ...(standalone ? { fastest: true } : {}),
      ...(options.bwlimitKiB !== undefined ? { bwlimitKiB: options.bwlimitKiB } : {}),
      ...(options.onProgress ? { onProgress: (percent: number) => options.onProgress?.(disk.device, percent) } : {}),
      ...(options.signal ? { signal: options.signal } : {}),
    });
    converted = true;
  } catch (error) {
    copyError = error;
  }
  try {
    await provider.restoreVmVolumeCleanup(volname, disk.device, {});
  } catch (error) {
    // Fatal only when the copy itself succeeded (PVE).
    if (converted) throw error;
    log('warn', `volume cleanup for '${disk.device}' failed: ${errorMessage(error)}`);
  }
  if (copyError !== undefined) throw copyError;
}
