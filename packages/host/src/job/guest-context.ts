import type { BackupProgressFunction, BackupProvider, BackupStorage, LogFunction } from '@bp/api';
import type { TaskLog } from './task-log.js';
import type { BackupJobOptions, BackupPhase } from './types.js';
import type { VmAccessOpener } from './vm-access.js';

/** What one guest's backup steps share. */
export interface GuestContext {
  storage: BackupStorage;
  provider: BackupProvider;
  options: BackupJobOptions;
  log: TaskLog;
  /** The provider's log function (job task output only, not the guest's file: spec H13). */
  providerLog: LogFunction;
  /** The guest's temporary directory (`vzdumptmp<pid>_<vmid>`). */
  tmpDir: string;
  /** Reports a step; throws when the job was aborted. */
  phase(phase: BackupPhase): void;
  signal: AbortSignal | undefined;
  /** Forwards a provider's progress as `bytes` job events (the provider's `info.onProgress`). */
  onProgress: BackupProgressFunction;
  vmAccess: VmAccessOpener;
  /**
   * The guest plugin's cleanup, run after `backupCleanup(true)` on success and before
   * `backupCleanup(false)` on failure (last registered runs first).
   */
  onCleanup(step: () => Promise<void>): void;
}

/** `bandwidthLimit` in bytes/s from the job's KiB/s, or undefined when unlimited. */
export function bandwidthLimitOf(options: BackupJobOptions): number | undefined {
  const kib = options.bwlimitKiB;
  return kib !== undefined && kib > 0 ? kib * 1024 : undefined;
}
