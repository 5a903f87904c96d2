import { BpError, parseQmdumpMap, parseWithSchema, restoreVmInitResultSchema, restoreVmVolumeInitResultSchema, type BackupStorage, type LogFunction } from '@bp/api';
import { checkUntrustedRawSource } from '../restore/qemu-img.js';
import { checkedRestoreMechanism, freshProvider } from '../restore/restore-source.js';
import type { Session } from './session.js';

/** One disk of a VM restore point, as the provider's validated read-only raw view. */
export interface VmDiskView {
  /** Config key, e.g. `scsi0`. */
  virtdev: string;
  /** Backup device name, e.g. `drive-scsi0`. */
  device: string;
  /** Virtual size in bytes. */
  size: number;
  /** The provider's read-only raw view of the validated chain (a file or block device). */
  path: string;
}

/**
 * The one door to a VM backup's data: exactly the restore path of `restoreVm` — `restoreGetMechanism`
 * (qemu-img), `restoreVmInit` (the provider validates every chain), the guest config's map lines,
 * `restoreVmVolumeInit` per wanted disk and the untrusted-source check of its path. Only raw,
 * read-only reads follow. Every initialised device is recorded in the session before it is
 * initialised, so its cleanup is never lost.
 */
export async function openVmViews(session: Session, storage: BackupStorage, volname: string, wanted: string | undefined, log: LogFunction): Promise<{ config: string; disks: VmDiskView[] }> {
  const provider = freshProvider(storage, log);
  session.provider = provider;
  await checkedRestoreMechanism(provider, volname, 'qemu', ['qemu-img']);
  await session.update((record) => {
    record.provider = { vmtype: 'qemu', devices: [] };
  });
  const devices = parseWithSchema(restoreVmInitResultSchema, await provider.restoreVmInit(volname), 'restoreVmInit result');
  const config = await provider.archiveGetGuestConfig(volname);
  const entries = parseQmdumpMap(config).sort((a, b) => a.virtdev.localeCompare(b.virtdev));
  const selected = wanted === undefined ? entries : entries.filter((entry) => entry.virtdev === wanted || entry.device === wanted);
  if (selected.length === 0) {
    const known = entries.map((entry) => entry.virtdev).join(', ') || 'none';
    throw new BpError('BP_NOT_FOUND', `backup ${volname} has no disk '${wanted ?? ''}'; its disks: ${known}`, { details: { disks: entries.map((entry) => entry.virtdev) } });
  }
  const disks: VmDiskView[] = [];
  for (const entry of selected) {
    const info = devices[entry.device];
    if (!info) throw new BpError('BP_RESTORE_FAILED', `archive does not contain data for drive '${entry.virtdev}'`, { details: { virtdev: entry.virtdev, device: entry.device } });
    await session.update((record) => {
      record.provider!.devices.push(entry.device);
    });
    const { qemuImgPath } = parseWithSchema(restoreVmVolumeInitResultSchema, await provider.restoreVmVolumeInit(volname, entry.device, {}), `restoreVmVolumeInit result for ${entry.device}`);
    await session.update((record) => {
      record.viewFiles.push(qemuImgPath);
    });
    await checkUntrustedRawSource(qemuImgPath);
    disks.push({ virtdev: entry.virtdev, device: entry.device, size: info.size, path: qemuImgPath });
  }
  return { config, disks };
}
