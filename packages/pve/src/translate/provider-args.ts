import { BpError, guestTypeSchema, type BackupVmInfo, type BitmapMode, type ContainerBackupInfo, type GuestType, type NbdVmVolume, type RestoreInfo, type VmDeviceSizes } from '@bp/api';
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
 * A `file-handle` volume as it crosses the bridge (protocol 2): the Perl file handle as its
 * descriptor number in the PVE process, the `next-dirty-region` closure as a stream token the
 * Node side drains with `regions.next`.
 */
export interface BridgedFileHandleEntry {
  mechanism: 'file-handle';
  size: number;
  bitmapMode: BitmapMode;
  /** The PVE process holding the handle, and the descriptor number there. */
  pid: number;
  fd: number;
  /** Absent when PVE passed no closure: the whole disk is one region. */
  stream?: string;
}

function bitmapModeOf(value: unknown, name: string): BitmapMode {
  const mode = toStr(value ?? 'none', name);
  if (mode !== 'none' && mode !== 'new' && mode !== 'reuse') throw new BpError('BP_INVALID_ARGUMENT', `${name} must be none, new or reuse, got ${JSON.stringify(mode)}`);
  return mode;
}

/**
 * backup_vm's `$volumes`. Mechanism `nbd`: `nbd-path`, `bitmap-name`, `bitmap-mode`, `size`;
 * the export name is the device name. Mechanism `file-handle`: `file-handle` and
 * `next-dirty-region` as the Perl side replaced them (see {@link BridgedFileHandleEntry}).
 */
export function vmVolumesArg(value: unknown): Record<string, NbdVmVolume | BridgedFileHandleEntry> {
  const volumes: Record<string, NbdVmVolume | BridgedFileHandleEntry> = {};
  for (const [device, raw] of Object.entries(toHash(value, 'volumes'))) {
    const entry = toHash(raw, `volumes.${device}`);
    const size = toInt(entry.size, `volumes.${device}.size`);
    const bitmapMode = bitmapModeOf(entry['bitmap-mode'], `volumes.${device}.bitmap-mode`);
    if (!isAbsent(entry['file-handle'])) {
      const handle = toHash(entry['file-handle'], `volumes.${device}.file-handle`);
      const closure = entry['next-dirty-region'];
      const stream = isAbsent(closure) ? undefined : toStr(toHash(closure, `volumes.${device}.next-dirty-region`).stream, `volumes.${device}.next-dirty-region.stream`);
      volumes[device] = {
        mechanism: 'file-handle',
        size,
        bitmapMode,
        pid: toInt(handle.pid, `volumes.${device}.file-handle.pid`),
        fd: toInt(handle.fd, `volumes.${device}.file-handle.fd`),
        ...(stream === undefined ? {} : { stream }),
      };
      continue;
    }
    const bitmapName = toOptionalStr(entry['bitmap-name'], `volumes.${device}.bitmap-name`);
    volumes[device] = {
      mechanism: 'nbd',
      size,
      bitmapMode,
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
