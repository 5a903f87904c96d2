import {
  BpError,
  type BackupVolume,
  type BackupMechanism,
  type IncrementalAnswers,
  type PruneResultEntry,
  type RestoreContainerInitResult,
  type RestoreMechanismResult,
  type RestoreVmInitResult,
  type StorageStatus,
  type VolumeSizeInfo,
} from '@bp/api';
import { isAbsent, toBool, toHash, toInt, toOptionalStr, toStr } from '../translate/perl-values.js';

// What a Perl provider returns, as the @bp/api contract's values. Perl hands back untyped
// scalars (numbers as strings, 1/0/"" for booleans, undef), list returns as arrays; a value
// outside the contract fails with BP_PROVIDER_FAILED naming the Perl method and what PVE expects.

function wrong(method: string, what: string, value: unknown): BpError {
  return new BpError('BP_PROVIDER_FAILED', `Perl ${method} returned ${JSON.stringify(value)}; PVE expects ${what}`, { details: { perlMethod: method } });
}

function checked<T>(method: string, what: string, value: unknown, read: () => T): T {
  try {
    return read();
  } catch (error) {
    if (BpError.isInstance(error) && error.code === 'BP_PROVIDER_FAILED') throw error;
    throw wrong(method, what, value);
  }
}

/** `backup_init`: `{ 'archive-name' => ... }`. */
export function archiveNameOf(method: string, value: unknown): { archiveName: string } {
  return checked(method, "a hash with a non-empty 'archive-name'", value, () => {
    const name = toStr(toHash(value, 'result')['archive-name'], 'archive-name');
    if (name === '') throw new Error('empty');
    return { archiveName: name };
  });
}

/** `backup_cleanup`: `{ stats => { 'archive-size' => N } }` or anything else (PVE only reads the size). */
export function cleanupResultOf(method: string, value: unknown): { stats?: { archiveSize: number } } {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return {};
  const stats = (value as Record<string, unknown>).stats;
  if (typeof stats !== 'object' || stats === null) return {};
  const size = (stats as Record<string, unknown>)['archive-size'];
  if (isAbsent(size)) return {};
  return { stats: { archiveSize: checked(method, "stats.archive-size in bytes", value, () => toInt(size, 'archive-size')) } };
}

const MECHANISMS = new Set(['nbd', 'file-handle', 'directory']);

/** `backup_get_mechanism`: `nbd`, `file-handle` or `directory`. */
export function mechanismOf(method: string, value: unknown): BackupMechanism {
  if (typeof value === 'string' && MECHANISMS.has(value)) return value as BackupMechanism;
  throw wrong(method, "'nbd' or 'file-handle' for VMs, 'directory' for containers", value);
}

/** `backup_vm_query_incremental`: undef or `{ <device> => 'new' | 'use' | 'none' }`. */
export function incrementalOf(method: string, value: unknown): IncrementalAnswers {
  if (isAbsent(value)) return undefined;
  return checked(method, "undef or a hash of device => 'new' | 'use' | 'none'", value, () => {
    const answers: Record<string, 'new' | 'use' | 'none'> = {};
    for (const [device, answer] of Object.entries(toHash(value, 'result'))) {
      if (answer !== 'new' && answer !== 'use' && answer !== 'none') throw new Error(device);
      answers[device] = answer;
    }
    return answers;
  });
}

/** `restore_get_mechanism` in list context: `($mechanism, $vmtype)`. */
export function restoreMechanismOf(method: string, value: unknown): RestoreMechanismResult {
  const [mechanism, vmtype] = Array.isArray(value) ? value : [];
  const valid = (mechanism === 'qemu-img' && vmtype === 'qemu') || ((mechanism === 'tar' || mechanism === 'directory') && vmtype === 'lxc');
  if (!valid) throw wrong(method, "('qemu-img', 'qemu'), ('tar', 'lxc') or ('directory', 'lxc')", value);
  return { mechanism, vmtype } as RestoreMechanismResult;
}

/** `archive_get_guest_config`: the raw text, never empty. */
export function guestConfigOf(method: string, value: unknown): string {
  if (typeof value === 'string' && value !== '') return value;
  throw wrong(method, 'the guest configuration as a non-empty string', value);
}

/** `restore_vm_init`: `{ <device> => { size => N } }`. */
export function restoreVmInitOf(method: string, value: unknown): RestoreVmInitResult {
  return checked(method, 'a hash of device => { size => bytes }', value, () => {
    const result: RestoreVmInitResult = {};
    for (const [device, entry] of Object.entries(toHash(value, 'result'))) {
      const size = toInt(toHash(entry, device).size, `${device}.size`);
      if (size <= 0) throw new Error(device);
      result[device] = { size };
    }
    return result;
  });
}

/** `restore_vm_volume_init`: `{ 'qemu-img-path' => $path }`. */
export function qemuImgPathOf(method: string, value: unknown): { qemuImgPath: string } {
  return checked(method, "a hash with 'qemu-img-path'", value, () => ({ qemuImgPath: toStr(toHash(value, 'result')['qemu-img-path'], 'qemu-img-path') }));
}

/** `restore_container_init`: `{ 'tar-path' => ... }` or `{ 'archive-directory' => ... }`. */
export function containerInitOf(method: string, value: unknown): RestoreContainerInitResult {
  return checked(method, "a hash with 'tar-path' or 'archive-directory'", value, () => {
    const hash = toHash(value, 'result');
    const tar = toOptionalStr(hash['tar-path'], 'tar-path');
    if (tar) return { tarPath: tar };
    const dir = toOptionalStr(hash['archive-directory'], 'archive-directory');
    if (dir) return { archiveDirectory: dir };
    throw new Error('none');
  });
}

/** `parse_volname` in list context: `('backup', $name, $vmid, ...)`. */
export function parsedVolnameOf(method: string, value: unknown): { vtype: 'backup'; name: string; vmid: number } {
  const [vtype, name, vmid] = Array.isArray(value) ? value : [];
  if (vtype !== 'backup') throw new BpError('BP_INVALID_VOLUME_ID', `Perl ${method} returned vtype ${JSON.stringify(vtype)}, not 'backup'`, { details: { perlMethod: method } });
  return checked(method, "('backup', <name>, <vmid>)", value, () => ({ vtype: 'backup' as const, name: toStr(name, 'name'), vmid: toInt(vmid, 'vmid') }));
}

/** `path` in list context: `($path, $vmid, $vtype)`. */
export function pathOf(method: string, value: unknown): { path: string; vmid: number; vtype: 'backup' } {
  const [path, vmid, vtype] = Array.isArray(value) ? value : [];
  if (vtype !== undefined && vtype !== null && vtype !== 'backup') throw wrong(method, "($path, $vmid, 'backup')", value);
  return checked(method, "($path, $vmid, 'backup')", value, () => ({ path: toStr(path, 'path'), vmid: toInt(vmid, 'vmid'), vtype: 'backup' as const }));
}

/** One `list_volumes` entry. */
function volumeOf(method: string, entry: unknown): BackupVolume {
  return checked(method, 'a list of hashes with volid, vmid, format, ctime, size, subtype', entry, () => {
    const hash = toHash(entry, 'volume');
    const subtype = toStr(hash.subtype, 'subtype');
    if (subtype !== 'qemu' && subtype !== 'lxc') throw new Error('subtype');
    const size = isAbsent(hash.size) ? hash['approximate-size'] : hash.size;
    const volume: BackupVolume = {
      volid: toStr(hash.volid, 'volid'),
      vmid: toInt(hash.vmid, 'vmid'),
      format: toStr(hash.format, 'format'),
      ctime: toInt(hash.ctime, 'ctime'),
      size: toInt(size ?? 0, 'size'),
      subtype,
      content: 'backup',
    };
    const notes = toOptionalStr(hash.notes, 'notes');
    if (notes !== undefined) volume.notes = notes;
    if (!isAbsent(hash.protected)) volume.protected = toBool(hash.protected, 'protected');
    const parent = toOptionalStr(hash.parent, 'parent');
    if (parent) volume.parent = parent;
    return volume;
  });
}

/** `list_volumes`: an array of hashes, sorted by volid as PVE's `volume_list` sorts it. */
export function volumesOf(method: string, value: unknown): BackupVolume[] {
  if (!Array.isArray(value)) throw wrong(method, 'an array of volume hashes', value);
  return value
    .filter((entry) => typeof entry !== 'object' || entry === null || (entry as Record<string, unknown>).content === undefined || (entry as Record<string, unknown>).content === 'backup')
    .map((entry) => volumeOf(method, entry))
    .sort((a, b) => (a.volid.toLowerCase() < b.volid.toLowerCase() ? -1 : a.volid.toLowerCase() > b.volid.toLowerCase() ? 1 : 0));
}

/** `volume_size_info` in list context: `($size, $format, $used, $parent, $ctime)`. */
export function sizeInfoOf(method: string, value: unknown): VolumeSizeInfo {
  const [size, format, used, parent, ctime] = Array.isArray(value) ? value : [];
  return checked(method, '($size, $format, $used, $parent, $ctime)', value, () => {
    const info: VolumeSizeInfo = { size: toInt(size, 'size'), format: toStr(format, 'format'), used: toInt(used ?? size, 'used'), ctime: toInt(ctime ?? 0, 'ctime') };
    const parentVolid = toOptionalStr(parent, 'parent');
    if (parentVolid) info.parent = parentVolid;
    return info;
  });
}

/** `status` in list context: `($total, $avail, $used, $active)`. */
export function statusOf(method: string, value: unknown): StorageStatus {
  const [total, available, used, active] = Array.isArray(value) ? value : [];
  return checked(method, '($total, $avail, $used, $active)', value, () => ({
    total: toInt(total ?? 0, 'total'),
    available: toInt(available ?? 0, 'avail'),
    used: toInt(used ?? 0, 'used'),
    active: toBool(active, 'active'),
  }));
}

/** `prune_backups`: `[{ volid, ctime, type, vmid, mark }]`. */
export function pruneEntriesOf(method: string, value: unknown): PruneResultEntry[] {
  if (!Array.isArray(value)) throw wrong(method, 'an array of { volid, ctime, type, vmid, mark }', value);
  return value.map((entry) =>
    checked(method, 'an array of { volid, ctime, type, vmid, mark }', entry, () => {
      const hash = toHash(entry, 'entry');
      const type = toStr(hash.type ?? 'unknown', 'type');
      const mark = toStr(hash.mark, 'mark');
      if (!['keep', 'remove', 'protected', 'renamed'].includes(mark)) throw new Error('mark');
      return {
        volid: toStr(hash.volid, 'volid'),
        ctime: toInt(hash.ctime, 'ctime'),
        type: (type === 'qemu' || type === 'lxc' ? type : 'unknown') as PruneResultEntry['type'],
        vmid: toInt(hash.vmid ?? 0, 'vmid'),
        mark: mark as PruneResultEntry['mark'],
      };
    }),
  );
}
