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

/** `backupVmQueryIncremental`'s `$devices`: device name -> virtual size. */
export type VmDeviceSizes = Record<string, { size: number }>;

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
