import { BpError, guestTypeSchema, type BackupVmInfo, type ContainerBackupInfo, type GuestType, type RestoreInfo, type VmDeviceSizes, type VmVolumes } from '@bp/api';
import { isAbsent, toHash, toInt, toOptionalInt, toOptionalStr, toStr, toStrList } from './perl-values.js';

// Translations of the provider methods' Perl arguments (Base.pm positions, the quirks of spec
// 1.5 / H4 included) into the @bp/api contract's arguments.

/** `$vmtype`: `qemu` / `lxc`, undefined for undef (backup_cleanup after an early failure). */
export function guestTypeArg(value: unknown, name = 'vmtype'): GuestType | undefined {
  if (isAbsent(value)) return undefined;
  const parsed = guestTypeSchema.safeParse(value);
  if (!parsed.success) throw new BpError('BP_INVALID_ARGUMENT', `${name} must be qemu or lxc, got ${JSON.stringify(value)}`);
  return parsed.data;
}

/** `$vmtype` that must be present. */
export function requiredGuestType(value: unknown): GuestType {
  const type = guestTypeArg(value);
  if (type === undefined) throw new BpError('BP_INVALID_ARGUMENT', 'vmtype must be qemu or lxc, got undef');
  return type;
}

/** `$devices` of backup_vm_query_incremental: `{ <device> => { size => N } }`. */
export function deviceSizesArg(value: unknown): VmDeviceSizes {
  const devices: VmDeviceSizes = {};
  for (const [device, entry] of Object.entries(toHash(value, 'volumes', true))) devices[device] = { size: toInt(toHash(entry, `volumes.${device}`).size, `volumes.${device}.size`) };
  return devices;
}

/**
 * backup_vm's `$volumes` for mechanism `nbd`: `nbd-path`, `bitmap-name`, `bitmap-mode`, `size`;
 * the export name is the device name. `file-handle` volumes need the fd-passing path.
 */
export function vmVolumesArg(value: unknown): VmVolumes {
  const volumes: VmVolumes = {};
  for (const [device, raw] of Object.entries(toHash(value, 'volumes'))) {
    const entry = toHash(raw, `volumes.${device}`);
    if ('file-handle' in entry || 'next-dirty-region' in entry) {
      throw new BpError('BP_NOT_SUPPORTED', `device ${device}: the file-handle mechanism does not cross this bridge version; set vm-backup-mechanism nbd on the storage`);
    }
    const mode = toStr(entry['bitmap-mode'] ?? 'none', `volumes.${device}.bitmap-mode`);
    if (mode !== 'none' && mode !== 'new' && mode !== 'reuse') throw new BpError('BP_INVALID_ARGUMENT', `volumes.${device}.bitmap-mode must be none, new or reuse, got ${JSON.stringify(mode)}`);
    const bitmapName = toOptionalStr(entry['bitmap-name'], `volumes.${device}.bitmap-name`);
    volumes[device] = {
      mechanism: 'nbd',
      size: toInt(entry.size, `volumes.${device}.size`),
      bitmapMode: mode,
      nbdPath: toStr(entry['nbd-path'], `volumes.${device}.nbd-path`),
      exportName: device,
      ...(bitmapName === undefined ? {} : { bitmapName }),
    };
  }
  return volumes;
}

/** backup_vm's `$info`: `bandwidth-limit` (bytes/s), `firewall-config` (only if the file exists). */
export function backupVmInfoArg(value: unknown, signal: AbortSignal): BackupVmInfo {
  const info = toHash(value, 'info', true);
  const bandwidthLimit = toOptionalInt(info['bandwidth-limit'], 'info.bandwidth-limit');
  const firewallConfig = toOptionalStr(info['firewall-config'], 'info.firewall-config');
  return {
    signal,
    ...(bandwidthLimit ? { bandwidthLimit } : {}),
    ...(firewallConfig === undefined ? {} : { firewallConfig }),
  };
}

/** backup_container(_prepare)'s `$info`. `firewall-config` is present for every container (spec H8). */
export function containerInfoArg(value: unknown): ContainerBackupInfo {
  const info = toHash(value, 'info');
  const bandwidthLimit = toOptionalInt(info['bandwidth-limit'], 'info.bandwidth-limit');
  return {
    directory: toStr(info.directory, 'info.directory'),
    sources: toStrList(info.sources, 'info.sources'),
    backupUserId: toInt(info['backup-user-id'] ?? 0, 'info.backup-user-id'),
    firewallConfig: toOptionalStr(info['firewall-config'], 'info.firewall-config') ?? '',
    ...(bandwidthLimit ? { bandwidthLimit } : {}),
  };
}

/** backup_cleanup's `$info`: `{ error => "<message>" }` on failure. */
export function cleanupInfoArg(value: unknown): { error?: string } {
  const error = toOptionalStr(toHash(value, 'info', true).error, 'info.error');
  return error === undefined ? {} : { error };
}

/**
 * The `$info` of restore_container_init/cleanup. pve-container calls them as
 * `($volname, $storeid, {})`; Base.pm documents `($volname, $info)`. Both shapes are accepted.
 */
export function restoreInfoAfterVolname(args: readonly unknown[]): RestoreInfo {
  const [second, third] = [args[1], args[2]];
  const info = typeof second === 'string' || typeof second === 'number' ? third : second;
  toHash(info, 'info', true);
  return {};
}
