import type { BackupStorage, LogFunction } from '@bp/api';
import * as host from '@bp/host';
import { optionalExport } from './optional-export.js';

/** What the CLI needs from @bp/host's VM restore. */
export interface VmRestoreRequest {
  storage: BackupStorage;
  volname: string;
  targetDir: string;
  format: 'qcow2' | 'raw';
  log: LogFunction;
  signal: AbortSignal;
}

/** One restored disk. */
export interface RestoredDisk {
  device: string;
  path: string;
  format: 'qcow2' | 'raw';
  size: number;
}

/** What the CLI needs from @bp/host's container restore. */
export interface ContainerRestoreRequest {
  storage: BackupStorage;
  volname: string;
  targetDir: string;
  log: LogFunction;
  signal: AbortSignal;
}

type RestoreVm = (request: VmRestoreRequest) => Promise<{ disks: RestoredDisk[]; config?: string }>;
type RestoreContainer = (request: ContainerRestoreRequest) => Promise<{ root?: string; config?: string }>;

/** @bp/host's `restoreVm` (BP_NOT_SUPPORTED when this build lacks it). */
export function hostRestoreVm(request: VmRestoreRequest): Promise<{ disks: RestoredDisk[]; config?: string }> {
  return optionalExport<RestoreVm>(host, '@bp/host', 'restoreVm')(request);
}

/** @bp/host's `restoreContainer` (BP_NOT_SUPPORTED when this build lacks it). */
export function hostRestoreContainer(request: ContainerRestoreRequest): Promise<{ root?: string; config?: string }> {
  return optionalExport<RestoreContainer>(host, '@bp/host', 'restoreContainer')(request);
}
