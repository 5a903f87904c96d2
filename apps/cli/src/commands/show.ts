import { FULL_REASON_TEXT, type BackupVolume } from '@bp/api';
import type { CommandSpec } from '../args/command-spec.js';
import { formatBytes } from '../output/format.js';
import type { ShowJson } from '../output/json-types.js';
import { backupJson, guestWord } from './backup-rows.js';
import { providerLog } from './provider-log.js';
import { findVolume, resolveVolumeArgument } from './volume-argument.js';

/** The backups `volume` needs, oldest first, following `parent` links (cycles stop the walk). */
export function chainOf(volume: BackupVolume, all: readonly BackupVolume[]): string[] {
  const byId = new Map(all.map((candidate) => [candidate.volid, candidate]));
  const chain = [volume.volid];
  let current: BackupVolume | undefined = volume;
  while (current?.parent && !chain.includes(current.parent)) {
    chain.unshift(current.parent);
    current = byId.get(current.parent);
  }
  return chain;
}

/** `  drive-scsi0  64.0 MiB  full (bitmap-not-ours: the dirty bitmap does not continue from the last backup)` */
function diskLine(disk: ShowJson['disks'][number]): string {
  const chain = disk.kind === null ? '' : `  ${disk.kind}${disk.kind === 'incremental' ? `, chain of ${disk.chainLength ?? '?'}` : ''}`;
  const why = disk.fullReason !== null ? ` (${disk.fullReason}: ${disk.detail ?? FULL_REASON_TEXT[disk.fullReason]})` : disk.detail !== null ? ` (${disk.detail})` : '';
  return `  ${disk.device}  ${formatBytes(disk.size)}${chain}${why}`;
}

/** `bp show <volid>`. */
export const showCommand: CommandSpec = {
  name: 'show',
  summary: 'Show one backup: attributes, stored disks, incremental chain, guest config',
  usage: '<volid> [options]',
  options: [],
  positionals: { min: 1, max: 1, names: 'a volume ID' },
  examples: ['bp show local:backup/100/qemu-2026-11-26T20:00:00Z', 'bp show local:backup/100/qemu-2026-11-26T20:00:00Z --json'],
  failureCode: 'BP_PROVIDER_FAILED',
  async run(context) {
    const target = await resolveVolumeArgument(context, context.positionals[0]);
    const volume = await findVolume(target);
    const provider = target.storage.newBackupProvider(providerLog(context));
    const { mechanism } = await provider.restoreGetMechanism(target.volname);
    const config = await provider.archiveGetGuestConfig(target.volname);
    let disks: ShowJson['disks'] = [];
    if (volume.subtype === 'qemu') {
      try {
        const sizes = await provider.restoreVmInit(target.volname);
        disks = Object.entries(sizes).map(([device, { size }]) => {
          const chain = volume.devices?.[device];
          return { device, size, kind: chain?.kind ?? null, chainLength: chain?.chainLength ?? null, fullReason: chain?.fullReason ?? null, detail: chain?.detail ?? null };
        });
      } finally {
        await provider.restoreVmCleanup(target.volname);
      }
    }
    const all = await target.storage.listVolumes({ vmid: volume.vmid });
    const json: ShowJson = { ...backupJson(volume), storage: target.storage.storeId, mechanism, chain: chainOf(volume, all), config, disks };
    const lines = [
      `volid:      ${json.volid}`,
      `guest:      ${guestWord(json.type)} ${json.vmid}`,
      `time:       ${json.time}`,
      `size:       ${formatBytes(json.size)}`,
      `protected:  ${json.protected ? 'yes' : 'no'}`,
      `notes:      ${json.notes ?? ''}`,
      `restore:    ${mechanism}`,
    ];
    if (disks.length > 0) lines.push('disks:', ...disks.map(diskLine));
    lines.push('chain:', ...json.chain.map((volid, index) => `  ${index + 1}. ${volid}${index === 0 && json.chain.length > 1 ? ' (full)' : ''}`));
    lines.push('config:', ...config.trimEnd().split('\n').map((line) => `  ${line}`));
    return { json, text: lines.join('\n') };
  },
};
