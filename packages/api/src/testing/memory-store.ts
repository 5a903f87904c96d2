import type { GuestType } from '../provider/guest.js';

/** One backup held in memory: every disk as a complete image, so no backup depends on another. */
export interface MemoryBackup {
  archiveName: string;
  vmid: number;
  vmtype: GuestType;
  ctime: number;
  guestConfig: string;
  firewallConfig?: string;
  /** Device name -> full disk image. */
  disks: Map<string, Buffer>;
  notes?: string;
  protected: boolean;
  /** `writing` until `backupVm` returns, `written` until `backupCleanup(true)`, then `published`. */
  state: 'writing' | 'written' | 'published';
  /** The backup whose images an incremental starts from (chosen by `backupVmQueryIncremental`). */
  base?: string;
}

/**
 * Everything one memory storage knows. It lives in the storage, not in provider objects: the host
 * creates a fresh provider per entry point, as PVE does.
 */
export interface MemoryStore {
  backups: Map<string, MemoryBackup>;
  /** Guest -> archive name of its backup in progress (between `backupInit` and `backupCleanup`). */
  inProgress: Map<number, string>;
  /**
   * Guest -> the backup QEMU's dirty bitmap is relative to: the last one whose `backupVm`
   * succeeded and was published. Gone after a failure that followed a successful `backupVm`
   * (hazard H1: QEMU already reset the bitmap) or when that backup is deleted.
   */
  bitmapBase: Map<number, string>;
  /** `<volname>\0<device>` -> temporary raw file handed to `qemu-img` during a restore. */
  restoreFiles: Map<string, string>;
}

/** An empty store. */
export function createMemoryStore(): MemoryStore {
  return { backups: new Map(), inProgress: new Map(), bitmapBase: new Map(), restoreFiles: new Map() };
}

/** Bytes the backup holds (the sum of its images). */
export function backupBytes(backup: MemoryBackup): number {
  let total = 0;
  for (const image of backup.disks.values()) total += image.length;
  return total;
}
