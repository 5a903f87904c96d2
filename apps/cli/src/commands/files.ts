import { openBackupFiles, type FileEntry } from '@bp/host';
import type { CommandSpec } from '../args/command-spec.js';
import { stringValue } from '../args/values.js';
import { formatBytes } from '../output/format.js';
import { openBackupContext } from './open-backup-context.js';
import { findVolume, resolveVolumeArgument } from './volume-argument.js';

const TYPE_LETTER: Record<FileEntry['type'], string> = {
  file: '-',
  directory: 'd',
  symlink: 'l',
  hardlink: 'h',
  fifo: 'p',
  socket: 's',
  'char-device': 'c',
  'block-device': 'b',
  other: '?',
};

/** `drwxr-xr-x`-style mode text. */
export function modeText(entry: FileEntry): string {
  const bits = 'rwxrwxrwx'.split('').map((letter, index) => ((entry.mode >> (8 - index)) & 1 ? letter : '-'));
  if (entry.mode & 0o4000) bits[2] = bits[2] === 'x' ? 's' : 'S';
  if (entry.mode & 0o2000) bits[5] = bits[5] === 'x' ? 's' : 'S';
  if (entry.mode & 0o1000) bits[8] = bits[8] === 'x' ? 't' : 'T';
  return `${TYPE_LETTER[entry.type]}${bits.join('')}`;
}

/** `bp files <volid> [PATH]`. */
export const filesCommand: CommandSpec = {
  name: 'files',
  summary: 'List a directory of a VM or container backup without restoring it',
  usage: '<volid> [path] [--disk <dev>]',
  description:
    'VM disks: on a partitioned disk the top level lists the partitions (part1, part2, ...), paths look like\n' +
    '/part1/etc; a whole-disk filesystem is read directly (/etc). ext2/3/4 and xfs are mounted read-only\n' +
    '(nodev, nosuid, noexec, no journal replay), FAT is read in userspace. Containers: tar archives are\n' +
    'read from their member list without extracting, squashfs through its read-only view. Symlinks are\n' +
    'resolved inside the backup only. Restore single paths with `bp restore <volid> --path <path> --to <dir>`.',
  options: [{ name: 'disk', type: 'string', argument: '<dev>', description: 'the VM disk to read (needed when the VM has several)', defaultText: 'the only disk' }],
  positionals: { min: 1, max: 2, names: 'a volume ID and an optional path' },
  examples: ['bp files local:backup/100/qemu-2026-11-26T20:00:00Z /part1/etc', 'bp files local:backup/200/lxc-2026-11-26T20:05:00Z /etc --json'],
  failureCode: 'BP_RESTORE_FAILED',
  async run(context) {
    const path = context.positionals[1] ?? '/';
    const disk = stringValue(context.values, 'disk');
    const target = await resolveVolumeArgument(context, context.positionals[0]);
    await findVolume(target);
    const files = await openBackupFiles({ storage: target.storage, volid: target.volid, ...openBackupContext(context), ...(disk !== undefined ? { disk } : {}) });
    try {
      const entries = await files.list(path);
      const json = { volid: target.volid, path, ...(files.disk ? { disk: files.disk.virtdev, partitionTable: files.disk.layout.table } : {}), entries };
      const partitionLevel = files.disk !== undefined && files.disk.layout.table !== 'none' && path.split('/').filter(Boolean).length === 0;
      const lines = entries.map((entry) =>
        partitionLevel
          ? `${entry.name.padEnd(8)}  ${(entry.target ?? '').padEnd(8)}  ${formatBytes(entry.size)}`
          : `${modeText(entry)}  ${String(entry.uid).padStart(5)} ${String(entry.gid).padStart(5)}  ${String(entry.size).padStart(10)}  ${entry.mtime.slice(0, 19).replace('T', ' ')}  ${entry.name}${entry.target !== undefined ? ` -> ${entry.target}` : ''}`,
      );
      return { json, text: lines.length > 0 ? lines.join('\n') : '(empty directory)' };
    } finally {
      await files.close();
    }
  },
};
