import type { BackupStorage, LogFunction } from '@bp/api';
import * as host from '@bp/host';
import { restoreVm, type RestoredVm } from '@bp/host';
import { optionalExport } from './optional-export.js';

/** A VM restore as the CLI asks for it. */
export interface VmRestoreRequest {
  storage: BackupStorage;
  volid: string;
  targetDir: string;
  format: 'qcow2' | 'raw';
  bwlimitKiB?: number;
  log: LogFunction;
  onProgress?: (device: string, percent: number) => void;
  signal: AbortSignal;
}

/** A container restore as the CLI asks for it. */
export interface ContainerRestoreRequest {
  storage: BackupStorage;
  volid: string;
  targetDir: string;
  log: LogFunction;
  signal: AbortSignal;
}

/** What the CLI reads from a container restore. */
export interface RestoredContainerView {
  config?: string;
}

type RestoreContainer = (request: ContainerRestoreRequest) => Promise<RestoredContainerView>;

/** @bp/host's `restoreVm`: one image per device in `targetDir`, created images removed on failure. */
export function hostRestoreVm(request: VmRestoreRequest): Promise<RestoredVm> {
  return restoreVm(request);
}

/** @bp/host's `restoreContainer` (BP_NOT_SUPPORTED when this build lacks it). */
export function hostRestoreContainer(request: ContainerRestoreRequest): Promise<RestoredContainerView> {
  return optionalExport<RestoreContainer>(host, '@bp/host', 'restoreContainer')(request);
}
