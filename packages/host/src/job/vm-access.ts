import type { VmVolumes } from '@bp/api';

/**
 * The VM snapshot-access seam the job runner drives (implemented by `openVm` in `src/vm`). Kept
 * structural so the runner can be exercised with a test double and so the job module does not
 * depend on how QEMU is started.
 */

/** One disk image of a stopped VM. */
export interface VmDiskSpec {
  /** Config key of the drive, e.g. `scsi0`, `efidisk0`, `tpmstate0`. */
  virtdev: string;
  /** Path of the image. */
  image: string;
  format: 'qcow2' | 'raw';
}

/** Where a VM's disks come from: image files (started in qemu-storage-daemon) or a running QEMU over QMP. */
export type VmSource =
  | { kind: 'images'; disks: VmDiskSpec[] }
  | { kind: 'qmp'; socketPath: string; disks: { virtdev: string; nodeName: string }[] };

/** The snapshot access of one VM for one storage (PVE `backup-access-setup`). */
export interface SnapshotAccess {
  /** What `backupVm` receives. */
  readonly volumes: VmVolumes;
  /** Device name -> human-readable bitmap status ("created new", "OK (X of Y dirty)", ...). */
  readonly bitmapStatus: Record<string, string>;
  /** PVE `backup-access-teardown`: `success` = "backupVm returned" (spec H1). */
  teardown(success: boolean): Promise<void>;
}

/** A VM opened for backup: device sizes known, no access set up yet. */
export interface OpenedVm {
  /** Device name (`drive-scsi0`) -> virtual size in bytes. */
  readonly devices: Record<string, { size: number }>;
  setupAccess(options: {
    storeId: string;
    answers: Record<string, 'new' | 'use' | 'none'> | undefined;
    mechanism: 'nbd' | 'file-handle';
  }): Promise<SnapshotAccess>;
  close(): Promise<void>;
}

/** Options of {@link VmAccessOpener}. */
export interface OpenVmOptions {
  source: VmSource;
  /** A fresh 0700 directory for sockets and fleecing images. */
  workDir: string;
  log?: (level: 'info' | 'warn' | 'err', message: string) => void;
  signal?: AbortSignal;
}

/** The shape of `openVm`. */
export type VmAccessOpener = (options: OpenVmOptions) => Promise<OpenedVm>;

/**
 * PVE's device name of a drive: `drive-<virtdev>`, except the TPM state, which is attached only
 * for the backup as `drive-tpmstate0-backup` (spec 1.2).
 */
export function backupDeviceName(virtdev: string): string {
  return virtdev.startsWith('tpmstate') ? `drive-${virtdev}-backup` : `drive-${virtdev}`;
}
