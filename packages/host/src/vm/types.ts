import type { BitmapIdentity, LogFunction, VmVolumes } from '@bp/api';

/** One disk image of a stopped VM. */
export interface VmDiskSpec {
  /** Config key of the drive: `scsi0`, `efidisk0`, `tpmstate0`, ... */
  virtdev: string;
  /** Path of the image file. */
  image: string;
  format: 'qcow2' | 'raw';
}

/**
 * Where a VM's disks come from: image files of a stopped VM (opened in a qemu-storage-daemon we
 * start) or a running QEMU reached over its QMP socket (its block nodes named per disk).
 */
export type VmSource =
  | { kind: 'images'; disks: VmDiskSpec[] }
  | { kind: 'qmp'; socketPath: string; disks: LiveDiskSpec[] };

/** One disk of a running QEMU. */
export interface LiveDiskSpec {
  /** Config key of the drive: `scsi0`, ... */
  virtdev: string;
  /** The block node holding the disk's data (what the guest device reads through). */
  nodeName: string;
  /**
   * The guest device using `nodeName`: its qdev ID (`/machine/peripheral/<id>`) or a QOM path.
   * With it, bp switches the device onto its own copy-before-write filter (QOM `drive`
   * property), which limits reads to the bitmap's dirty extents as PVE does. Without it, a
   * `sync=none` backup job inserts the filter and reads are not limited (see README).
   */
  guestDevice?: string;
}

/** Options of {@link openVm}. */
export interface OpenVmOptions {
  source: VmSource;
  /** A private directory for sockets, fleecing images and FUSE mounts; everything bp puts there is removed again. */
  workDir: string;
  log?: LogFunction;
  /** Aborting tears down an active access (as failed) and closes the VM. */
  signal?: AbortSignal;
  /**
   * Granularity of newly created dirty bitmaps in bytes (default 4 MiB, PVE's chunk size; dirty
   * extents are aligned to it). Must be a power of two between 512 B and 2 GiB.
   */
  bitmapGranularity?: number;
}

/** Options of {@link OpenedVm.setupAccess}. */
export interface SetupAccessOptions {
  /** The PVE storage ID; without `storageInstance` the bitmap is named `snapshot-access:<storeId>` (PVE). */
  storeId: string;
  /**
   * bp's standalone naming: bitmaps named `bp:<storageInstance>:<generation>`, a new generation
   * at every successful teardown, reported as `bitmapGeneration` in the volumes.
   */
  storageInstance?: string;
  /** `backupVmQueryIncremental`'s answer; devices left out (or undefined) get no bitmap and lose an existing one. */
  answers: Record<string, 'new' | 'use' | 'none'> | undefined;
  mechanism: 'nbd' | 'file-handle';
}

/** A VM opened for backup: device sizes known, no snapshot access yet. */
export interface OpenedVm extends AsyncDisposable {
  /** Device name (`drive-scsi0`) -> virtual size in bytes, for `backupVmQueryIncremental`. */
  readonly devices: Record<string, { size: number }>;
  /**
   * Device name -> the bitmap of this storage instance as it stands now (`null`: none), for
   * `backupVmQueryIncremental`'s `devices[d].bitmap`. See {@link SetupAccessOptions.storageInstance}.
   */
  bitmapIdentities(storeId: string, storageInstance: string): Promise<Record<string, BitmapIdentity | null>>;
  /**
   * PVE `backup-access-setup` + NBD exports (spec 1.2.1–1.2.4): a point-in-time view of every
   * device, with bitmaps per the provider's answers. One access at a time per VM.
   */
  setupAccess(options: SetupAccessOptions): Promise<SnapshotAccess>;
  /**
   * Tears down an active access (as failed), removes what bp added to QEMU, stops the
   * qemu-storage-daemon if bp started it (a QEMU bp only connected to keeps running). Idempotent.
   */
  close(): Promise<void>;
}

/** Where writes to a device must go so that the snapshot stays at its point in time. */
export interface WriteTarget {
  /** Socket of the NBD server. */
  nbdPath: string;
  /** Writable export of the copy-before-write node of the device. */
  exportName: string;
  /** `nbd+unix:///<exportName>?socket=<nbdPath>` (libnbd, qemu-io, qemu-img). */
  uri: string;
}

/** The snapshot access of one VM for one storage. */
export interface SnapshotAccess extends AsyncDisposable {
  /** What `backupVm` receives; `bitmapMode` per device as set up. */
  readonly volumes: VmVolumes;
  /** Device name -> bitmap status for the task log ("created new", "OK (4.0 MiB of 64.0 MiB dirty)", ...). */
  readonly bitmapStatus: Record<string, string>;
  /**
   * Device name -> the block node every write to the disk must go through (the copy-before-write
   * filter). In a running QEMU, existing users of the disk node were moved onto it already.
   */
  readonly writeNodes: Record<string, string>;
  /**
   * A writable NBD export of the device's copy-before-write node: writes through it move old
   * data into the fleecing image first, so the access keeps showing the point in time. For
   * offline images this is the only correct way to change the disk while the access exists.
   * Removed by {@link teardown}.
   */
  writeExportFor(device: string): Promise<WriteTarget>;
  /**
   * PVE `backup-access-teardown` (spec 1.2.2): `success` = the provider stored the backup. Then
   * the bitmap holds exactly the writes since setup; otherwise those are added to it (nothing
   * lost). Always removes exports, FUSE mounts, fleecing images and temp files. Idempotent.
   */
  teardown(success: boolean): Promise<void>;
}
