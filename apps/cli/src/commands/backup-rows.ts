import type { BackupVolume } from '@bp/api';
import type { BackupJson } from '../output/json-types.js';
import { firstLine, formatBytes, formatTime, isoTime } from '../output/format.js';
import { renderTable } from '../output/table.js';

/** The JSON view of a listed backup. */
export function backupJson(volume: BackupVolume): BackupJson {
  return {
    volid: volume.volid,
    vmid: volume.vmid,
    type: volume.subtype,
    time: isoTime(volume.ctime),
    ctime: volume.ctime,
    size: volume.size,
    format: volume.format,
    parent: volume.parent ?? null,
    protected: volume.protected === true,
    notes: volume.notes ?? null,
  };
}

/** `qemu` -> `vm`, `lxc` -> `ct`: the words the CLI uses. */
export function guestWord(type: string): string {
  return type === 'qemu' ? 'vm' : type === 'lxc' ? 'ct' : type;
}

/** The `bp list` table. */
export function renderBackupTable(volumes: readonly BackupVolume[]): string {
  return renderTable(
    [
      { header: 'VOLID', value: (volume: BackupVolume) => volume.volid },
      { header: 'TYPE', value: (volume) => guestWord(volume.subtype) },
      { header: 'TIME', value: (volume) => formatTime(volume.ctime) },
      { header: 'SIZE', value: (volume) => formatBytes(volume.size), right: true },
      { header: 'PARENT', value: (volume) => (volume.parent ? volume.parent.slice(volume.parent.indexOf(':') + 1) : '-') },
      { header: 'PROTECTED', value: (volume) => (volume.protected ? 'yes' : '-') },
      { header: 'NOTES', value: (volume) => firstLine(volume.notes) },
    ],
    volumes,
  );
}
