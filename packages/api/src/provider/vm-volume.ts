import type { FileHandle } from 'node:fs/promises';
import type { BitmapMode } from './mechanism.js';
import type { BackupProgressFunction } from './progress.js';

/** A byte range of a disk: `[offset, offset + length)`. */
export interface DiskRegion {
  offset: number;
  length: number;
}

interface VmVolumeBase {
  /** Virtual size of the QEMU block node in bytes. */
  size: number;
  /** What the dirty bitmap covers; see {@link BitmapMode}. */
  bitmapMode: BitmapMode;
  /**
   * bp extension (absent under PVE): the generation the device's bitmap carries once this backup
   * succeeds. Record it with the backup; the next `backupVmQueryIncremental` must find a bitmap
   * of exactly this generation ({@link BitmapIdentity.generation}) before it may answer `use`.
   */
  bitmapGeneration?: string;
}

/**
 * bp extension: the dirty bitmap bp's standalone host found for a device and storage instance
 * before the access is set up. Bitmaps are named after the storage instance and stamped with a
 * new generation at every successful backup, so a bitmap another storage consumed, or a disk
 * copy carrying an older bitmap, shows a generation the provider did not record.
 */
export interface BitmapIdentity {
  /** Name of the bitmap in QEMU. */
  name: string;
  /** The storage instance the bitmap was created for ({@link BackupStorage.storageInstanceId}). */
  storageInstance: string;
  /** Generation stamped at the bitmap's last successful commit (or at its creation). */
  generation: string;
  /** Granularity in bytes. */
  granularity: number;
  /** Bytes the bitmap marks dirty at the time of the query. */
  dirtyBytes: number;
  /** False when QEMU reports the bitmap disabled, busy or inconsistent; the host then recreates it. */
  usable: boolean;
}

/**
 * Mechanism `nbd` (PVE keys `nbd-path`, `bitmap-name`): the snapshot access of one device,
 * exported by QEMU on a Unix socket under the device name. With a bitmap, only dirty extents of
 * the export are readable: read and query inside `qemu:dirty-bitmap:<bitmapName>` extents only.
 * The export is writable only so that the provider can discard (NBD TRIM) what it has stored.
 */
export interface NbdVmVolume extends VmVolumeBase {
  mechanism: 'nbd';
  /** Unix socket path of QEMU's NBD server (the same for all devices of a VM). */
  nbdPath: string;
  /** NBD export name = the device name, e.g. `drive-scsi0`. */
  exportName: string;
  /** `snapshot-access:<storeid>` when a bitmap is in use, else undefined. */
  bitmapName?: string;
}

/**
 * Mechanism `file-handle` (PVE keys `file-handle`, `next-dirty-region`): the export as a file
 * (nbdfuse) opened read-write with O_DIRECT, plus the dirty regions in ascending order. Reading
 * outside the regions fails. Discard punches a hole (fallocate PUNCH_HOLE | KEEP_SIZE).
 */
export interface FileHandleVmVolume extends VmVolumeBase {
  mechanism: 'file-handle';
  /** The open file; do not close it, the host does. */
  fileHandle: FileHandle;
  /** The file's path (for tools that need one); opening it again bypasses nothing. */
  filePath: string;
  /** Dirty regions, ascending. Without a reused bitmap: `(0, size)` (PVE) or only what may hold data (bp's host; the rest reads as zeroes). Iterate once. */
  dirtyRegions(): AsyncIterable<DiskRegion>;
  /** Frees the region in the fleecing image once it is stored (discard after read). */
  discard(offset: number, length: number): Promise<void>;
}

/** One device's snapshot access as handed to `backupVm`. */
export type VmVolume = NbdVmVolume | FileHandleVmVolume;

/** `backupVm`'s `$volumes`: device name (`drive-scsi0`, `drive-efidisk0`, `drive-tpmstate0-backup`) -> volume. */
export type VmVolumes = Record<string, VmVolume>;

/**
 * `backupVmQueryIncremental`'s `$devices`: device name -> virtual size, and (bp extension) the
 * bitmap the host would reuse: absent when the host cannot tell (PVE), `null` when bp's host
 * looked and found none for this storage instance.
 */
export type VmDeviceSizes = Record<string, { size: number; bitmap?: BitmapIdentity | null }>;

/** `backupVm`'s `$info`. */
export interface BackupVmInfo {
  /** Bytes per second; absent or 0 = unlimited. The provider honours it (PVE does not throttle). */
  bandwidthLimit?: number;
  /** Raw firewall config, present only if the guest has one. */
  firewallConfig?: string;
  /** Aborted when the job is interrupted; a provider stops copying and throws. */
  signal?: AbortSignal;
  /** Where a provider may report bytes stored per device (bp's host shows it; PVE passes none). */
  onProgress?: BackupProgressFunction;
}
