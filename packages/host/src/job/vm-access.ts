import type { BitmapIdentity } from '@bp/api';
import type { OpenVmOptions, SetupAccessOptions, SnapshotAccess } from '../vm/index.js';

/**
 * What the job runner needs of an opened VM: a narrow view of `OpenedVm` (see `openVm`), so a
 * test double or another snapshot-access implementation can stand in.
 */
export interface JobOpenedVm {
  /** Device name (`drive-scsi0`) -> virtual size in bytes. */
  readonly devices: Record<string, { size: number }>;
  /** The bitmap of a storage instance per device (`OpenedVm.bitmapIdentities`); a double may leave it out (the host then cannot tell). */
  bitmapIdentities?(storeId: string, storageInstance: string): Promise<Record<string, BitmapIdentity | null>>;
  setupAccess(options: SetupAccessOptions): Promise<Pick<SnapshotAccess, 'volumes' | 'bitmapStatus' | 'teardown'>>;
  close(): Promise<void>;
}

/** Opens a VM for snapshot access; `openVm` has this shape. */
export type VmAccessOpener = (options: OpenVmOptions) => Promise<JobOpenedVm>;
