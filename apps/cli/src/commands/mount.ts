import { mountBackup, unmountBackup } from '@bp/host';
import type { CommandSpec } from '../args/command-spec.js';
import { absolutePath, stringValue } from '../args/values.js';
import { openBackupContext } from './open-backup-context.js';
import { findVolume, resolveVolumeArgument } from './volume-argument.js';

/** `bp mount <volid> <dir>`. */
export const mountCommand: CommandSpec = {
  name: 'mount',
  summary: 'Mount a backup read-only (VM partitions under <dir>/<disk>/part<N>) until `bp umount`',
  usage: '<volid> <dir> [--disk <dev>]',
  description:
    'VM disks: each partition with ext2/3/4 or xfs at <dir>/<disk>/part<N>, a whole-disk filesystem at\n' +
    '<dir>/<disk>; mounted ro,nodev,nosuid,noexec without journal replay, through the validated read-only\n' +
    "chain. Partitions this kernel cannot mount (e.g. FAT without a vfat driver) are listed as skipped; read\n" +
    'them with `bp files`. Containers: a squashfs backup is mounted at <dir>; tar archives cannot be mounted\n' +
    '(use `bp files`). The mounts stay until `bp umount <dir>`, which also cleans up after a killed `bp mount`.',
  options: [{ name: 'disk', type: 'string', argument: '<dev>', description: 'mount only this VM disk', defaultText: 'every disk' }],
  positionals: { min: 2, max: 2, names: 'a volume ID and a directory' },
  examples: ['bp mount local:backup/100/qemu-2026-11-26T20:00:00Z /mnt/vm100', 'bp umount /mnt/vm100'],
  failureCode: 'BP_MOUNT_FAILED',
  async run(context) {
    const dir = absolutePath(context.io.cwd, context.positionals[1]!);
    const disk = stringValue(context.values, 'disk');
    const target = await resolveVolumeArgument(context, context.positionals[0]);
    await findVolume(target);
    const result = await mountBackup({ storage: target.storage, volid: target.volid, target: dir, ...openBackupContext(context), ...(disk !== undefined ? { disk } : {}) });
    const lines = [
      `Mounted ${target.volid} read-only at ${result.target}:`,
      ...result.mounted.map((entry) => `  ${entry.path}  (${entry.fsType})`),
      ...result.skipped.map((entry) => `  skipped ${entry.virtdev ? `${entry.virtdev}/` : ''}${entry.volume}: ${entry.reason}`),
      `Unmount with: bp umount ${result.target}`,
    ];
    return { json: { volid: target.volid, ...result }, text: lines.join('\n') };
  },
};

/** `bp umount <dir>`. */
export const umountCommand: CommandSpec = {
  name: 'umount',
  summary: 'Unmount what `bp mount` mounted at <dir> (also after a killed `bp mount`)',
  usage: '<dir>',
  options: [],
  positionals: { min: 1, max: 1, names: 'a directory' },
  examples: ['bp umount /mnt/vm100'],
  failureCode: 'BP_MOUNT_FAILED',
  async run(context) {
    const dir = absolutePath(context.io.cwd, context.positionals[0]!);
    const { stateDir, openStorage, log } = openBackupContext(context);
    const released = await unmountBackup({ target: dir, stateDir, openStorage, log });
    return { json: { target: dir, released }, text: `Unmounted ${dir}.` };
  },
};
