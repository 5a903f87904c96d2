import { BpError, FULL_REASON_TEXT, parsePruneOptions, type BackupStorage, type GuestType } from '@bp/api';
import { runBackupJob, type GuestSpec } from '@bp/host';
import type { CommandContext } from '../args/command-spec.js';
import type { OptionSpec } from '../args/option-spec.js';
import { parseBandwidth, stringValue } from '../args/values.js';
import type { BackupResultJson } from '../output/json-types.js';
import { formatBytes, formatDuration, formatRate } from '../output/format.js';
import { backupProgress } from '../progress/backup-progress.js';
import { trackStorageGrowth } from '../progress/storage-growth.js';
import { BytesReadCollector } from './bytes-read.js';
import { afterNewestBackupSecond } from './next-backup-second.js';

/** Options shared by `bp backup vm` and `bp backup ct`. */
export const BACKUP_JOB_OPTIONS: readonly OptionSpec[] = [
  { name: 'config', type: 'string', argument: '<file>', description: 'guest config to store (qemu-server.conf / pct.conf); default: generated' },
  { name: 'bwlimit', type: 'string', argument: '<rate>', description: 'bandwidth limit: KiB/s as in vzdump, or with a unit (50M = 50 MiB/s)', defaultText: 'unlimited' },
  { name: 'notes', type: 'string', argument: '<text>', description: 'notes template ({{guestname}}, {{vmid}}, {{node}}, {{cluster}})' },
  { name: 'protected', type: 'boolean', description: 'protect the new backup from prune and delete' },
  { name: 'prune', type: 'string', argument: '<list>', description: "retention applied after the backup, e.g. keep-daily=7,keep-last=3 (default: the storage's)" },
];

/** The job options from the shared backup options (validated before anything runs). */
export function jobOptionsFrom(values: Record<string, unknown>): { bwlimitKiB?: number; notesTemplate?: string; protected?: boolean; prune?: string } {
  const bwlimitText = stringValue(values, 'bwlimit');
  const bytesPerSecond = bwlimitText === undefined ? undefined : parseBandwidth(bwlimitText);
  const prune = stringValue(values, 'prune');
  if (prune !== undefined) parsePruneOptions(prune);
  const notes = stringValue(values, 'notes');
  return {
    // The host takes KiB/s like vzdump; 0 = unlimited, anything else at least 1 KiB/s.
    ...(bytesPerSecond === undefined ? {} : { bwlimitKiB: bytesPerSecond === 0 ? 0 : Math.max(1, Math.round(bytesPerSecond / 1024)) }),
    ...(notes === undefined ? {} : { notesTemplate: notes }),
    ...(values.protected === true ? { protected: true } : {}),
    ...(prune === undefined ? {} : { prune }),
  };
}

/**
 * Runs a one-guest backup job and turns its outcome into the command's JSON. A failed guest or
 * job throws its BpError (the host already removed anything partial).
 */
export async function runGuestBackup(
  context: CommandContext,
  storage: BackupStorage,
  guest: GuestSpec,
  options: { values: Record<string, unknown>; mode: string; totalBytes: number },
): Promise<BackupResultJson> {
  const jobOptions = jobOptionsFrom(options.values);
  const before = await storage.listVolumes({ vmid: guest.vmid });
  await afterNewestBackupSecond(before, context.signal);
  const started = Date.now();
  const bar = context.progress(`backup ${guest.type === 'qemu' ? 'vm' : 'ct'} ${guest.vmid}`, options.totalBytes);
  const storagePath = (storage.config as Record<string, unknown>).path;
  // The provider's own byte counts when it reports them; until then (or for a provider that
  // does not) an estimate from the storage directory's growth.
  const stopTracking = trackStorageGrowth(typeof storagePath === 'string' ? storagePath : undefined, bar, 1000, () => !progress.reported);
  const jsonProgress = context.global.json && context.global.progress;
  const progress = backupProgress(bar, jsonProgress ? (line) => context.io.stderr.write(`${line}\n`) : undefined);
  const bytesRead = new BytesReadCollector();
  let result;
  try {
    const granularity = (storage.config as Record<string, unknown>)['bitmap-granularity'];
    result = await runBackupJob({
      storage,
      guests: [guest],
      options: { ...jobOptions, ...(typeof granularity === 'number' ? { bitmapGranularity: granularity } : {}) },
      // Errors end up in the thrown BpError; print them here only with --debug to avoid doubles.
      log: (level, message) => {
        bytesRead.observe(message);
        // An incremental copies only the dirty part: shrink the bar's total once the host tells.
        if (bytesRead.dirtyBytes !== undefined) bar.setTotal(bytesRead.dirtyBytes);
        if (level === 'warn' || context.global.debug) context.log(`${level}: ${message}`);
      },
      onEvent: (event) => {
        if (event.type === 'bytes') progress.onBytes(event);
      },
      signal: context.signal,
    });
  } finally {
    stopTracking();
    bar.stop();
  }
  const guestResult = result.guests[0];
  if (!result.ok || guestResult?.status !== 'ok' || guestResult.volid === undefined) {
    if (context.signal.aborted) throw new BpError('BP_ABORTED', 'backup interrupted; the partial backup was removed, run the command again to retry', { cause: result.error ?? guestResult?.error });
    const error = guestResult?.error ?? result.error;
    if (error) throw error;
    throw new BpError('BP_BACKUP_FAILED', `backup of guest ${guest.vmid} failed; see the task log in ${result.logDir}`, { details: { logDir: result.logDir } });
  }
  const durationMs = Date.now() - started;
  const after = await storage.listVolumes({ vmid: guest.vmid });
  const volume = after.find((candidate) => candidate.volid === guestResult.volid);
  const remaining = new Set(after.map((candidate) => candidate.volid));
  const bytesCopied = bytesRead.total ?? guestResult.size ?? volume?.size ?? 0;
  return {
    storage: storage.storeId,
    volid: guestResult.volid,
    vmid: guest.vmid,
    type: guest.type as GuestType,
    // A VM backup without a base is full whatever was asked (first backup, lost bitmap, policy).
    mode: guest.type === 'qemu' ? (volume?.parent ? 'incremental' : 'full') : options.mode,
    bytesCopied,
    archiveSize: guestResult.size ?? null,
    durationMs,
    throughput: durationMs > 0 ? Math.round((bytesCopied * 1000) / durationMs) : 0,
    disks: bytesRead.devices.map(({ device, bytesRead: copied, bitmapStatus }) => {
      const chain = volume?.devices?.[device];
      return { device, bytesCopied: copied, bitmapStatus, kind: chain?.kind ?? null, fullReason: chain?.fullReason ?? null, detail: chain?.detail ?? null };
    }),
    protected: volume?.protected === true,
    notes: volume?.notes ?? null,
    pruned: before.filter((candidate) => !remaining.has(candidate.volid)).map((candidate) => candidate.volid),
  };
}

/** The human summary of a backup. */
export function backupText(json: BackupResultJson): string {
  const fullReads = json.disks.flatMap((disk) => (disk.fullReason === null ? [] : [`${disk.device}: read in full (${disk.fullReason}: ${disk.detail ?? FULL_REASON_TEXT[disk.fullReason]}).`]));
  return [summaryLine(json), ...fullReads].join('\n');
}

function summaryLine(json: BackupResultJson): string {
  return `Backed up ${json.type === 'qemu' ? 'VM' : 'container'} ${json.vmid} (${json.mode}) to ${json.volid}: ${formatBytes(json.bytesCopied)} in ${formatDuration(json.durationMs)} (${formatRate(json.bytesCopied, json.durationMs)}).`;
}
