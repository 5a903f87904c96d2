import { formatQmdumpMapLine, isValidStorageId, type QmdumpMapEntry } from '@bp/api';
import { deviceNameFor, type VmSource } from '../vm/index.js';

/**
 * The main section of a guest config as vzdump's `assemble` copies it, line by line with each
 * line newline-terminated: everything from the first `[section]` (snapshots, pending) on is
 * dropped, and so are `lock:` and `parent:` lines (plus `unusedN:` for VMs) and old
 * `#vzdump#` / `#qmdump#` lines. Blank lines are kept, as PVE keeps them.
 */
function mainSection(config: string, dropUnused: boolean): string {
  const lines = config.split('\n');
  if (lines.at(-1) === '') lines.pop(); // the text's final newline ends the last line
  let text = '';
  for (const line of lines) {
    if (/^\[.*\]\s*$/.test(line)) break;
    if (/^#(?:vzdump|qmdump)#/.test(line)) continue;
    if (/^(?:lock|parent):/.test(line)) continue;
    if (dropUnused && /^unused\d+:/.test(line)) continue;
    text += `${line}\n`;
  }
  return text;
}

/** The storage ID of a drive as its config line names it (`scsi0: local-lvm:vm-100-disk-0,...`), or '' for a path. */
function driveStoreId(config: string, virtdev: string): string {
  const line = config.split('\n').find((l) => l.startsWith(`${virtdev}:`));
  const volume = line?.slice(virtdev.length + 1).trim().split(',')[0] ?? '';
  const colon = volume.indexOf(':');
  if (colon < 0) return '';
  const storeId = volume.slice(0, colon);
  return isValidStorageId(storeId) ? storeId : '';
}

/**
 * The `qemu-server.conf` text handed to `backupVm` (qemu-server `assemble`): the config's main
 * section plus one `#qmdump#map:<virtdev>:<device>:<storeid>:<format>:` line per disk.
 */
export function assembleVmGuestConfig(config: string, source: VmSource): string {
  const main = mainSection(config, true);
  const entries: QmdumpMapEntry[] = source.disks.map((disk) => ({
    virtdev: disk.virtdev,
    device: deviceNameFor(disk.virtdev),
    storeId: driveStoreId(main, disk.virtdev),
    format: 'format' in disk ? disk.format : '',
  }));
  return main + entries.map((entry) => `${formatQmdumpMapLine(entry)}\n`).join('');
}

/** The `pct.conf` text handed to `backupContainer` (pve-container `assemble`). */
export function assembleContainerGuestConfig(config: string): string {
  return mainSection(config, false);
}

/** The guest name for notes: the config's `name:` (VM) or `hostname:` (container). */
export function guestNameFromConfig(config: string, key: 'name' | 'hostname'): string | undefined {
  const line = config.split('\n').find((l) => l.startsWith(`${key}:`));
  const value = line?.slice(key.length + 1).trim();
  return value === '' ? undefined : value;
}
