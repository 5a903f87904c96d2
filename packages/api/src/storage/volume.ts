import { z } from 'zod';
import { guestTypeSchema } from '../provider/guest.js';
import { fullReasonSchema } from '../rules/incremental-trust.js';

/** bp extension: how one device image of a VM backup stands in its chain. */
export const deviceChainSchema = z.object({
  /** `full`: the image stands alone (or was merged into a synthetic full); `incremental`: it builds on the previous one. */
  kind: z.enum(['full', 'incremental']),
  /** Images in the chain up to and including this one. */
  chainLength: z.number().int().min(1),
  /** Set when the storage backs up incrementally but this device was read in full. */
  fullReason: fullReasonSchema.optional(),
  /** The reason or the outcome in words (e.g. what a scheduled full read found). */
  detail: z.string().optional(),
});
/** See {@link deviceChainSchema}. */
export type DeviceChain = z.infer<typeof deviceChainSchema>;

/** One backup as `listVolumes` reports it (PVE `list_volumes` fields). */
export const backupVolumeSchema = z.object({
  /** `<storeid>:backup/<archive-name>`. */
  volid: z.string().min(1),
  vmid: z.number().int(),
  /** Storage format of the backup (`directory` for the directory provider). */
  format: z.string().min(1),
  /** Backup time, epoch seconds; sorting and pruning use it. */
  ctime: z.number().int(),
  /** Bytes on disk. */
  size: z.number().int().min(0),
  /** `qemu` or `lxc`; the GUI tells VM from container by it. */
  subtype: guestTypeSchema,
  content: z.literal('backup'),
  /** Notes (the GUI shows the first line). */
  notes: z.string().optional(),
  protected: z.boolean().optional(),
  /** Volume ID of the backup this one builds on (incrementals). */
  parent: z.string().optional(),
  /** bp extension: VM backups, device name -> its place in the incremental chain. */
  devices: z.record(z.string(), deviceChainSchema).optional(),
});
/** A listed backup. */
export type BackupVolume = z.infer<typeof backupVolumeSchema>;

/** PVE `volume_size_info` in list context: `(size, format, used, parent, ctime)`. */
export interface VolumeSizeInfo {
  size: number;
  format: string;
  used: number;
  parent?: string;
  ctime: number;
}

/** PVE `status()`: bytes. */
export interface StorageStatus {
  total: number;
  used: number;
  available: number;
  active: boolean;
}

/** What pruning decided for one backup. `renamed` = a name the storage does not recognise (never removed). */
export type PruneMark = 'keep' | 'remove' | 'protected' | 'renamed';

/** One row of `pruneBackups`' result (PVE: `{volid, ctime, type, vmid, mark}`). */
export interface PruneResultEntry {
  volid: string;
  ctime: number;
  type: 'qemu' | 'lxc' | 'unknown';
  vmid: number;
  mark: PruneMark;
  /** Chain-aware storages: what else happens to keep the rest restorable (e.g. "merged into ..."). */
  note?: string;
}

/** Volume attributes PVE reads and writes through the storage. */
export type VolumeAttribute = 'notes' | 'protected';

/** PVE `parse_volname` for backups. */
export interface ParsedVolname {
  vtype: 'backup';
  /** The archive name (volname without `backup/`). */
  name: string;
  /** Owner guest. */
  vmid: number;
}
