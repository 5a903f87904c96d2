import type { BackupStorage } from '@bp/api';
import type { BackupResultJson, DemoStepJson } from '../output/json-types.js';

/** What the demo needs to run. */
export interface DemoOptions {
  /** Opens the demo storage with config overrides (the VM backup mode). */
  openStorage(overrides: Record<string, unknown>): Promise<BackupStorage>;
  diskSize: number;
  keepWork: boolean;
  vmid: number;
  ctid: number;
  /**
   * Back the container up as unprivileged (owners shifted, restored with the same map: identical);
   * else privileged (PVE restores it unprivileged, so owners come back shifted by 100000).
   */
  unprivileged: boolean;
}

/** A backup taken by the demo, with how to prove its restore. */
export interface DemoBackup {
  step: DemoStepJson;
  /** Restores into `scratch` and compares; resolves to the problem, or undefined when identical. */
  verify(scratch: string, signal: AbortSignal): Promise<string | undefined>;
}

/** Host uid/gid of the demo container's root, and PVE's default ID shift for restores. */
export const CT_ID_SHIFT = 100_000;

/** A summary row for a finished backup (not yet verified). */
export function demoStep(label: string, result: BackupResultJson): DemoStepJson {
  return {
    backup: label,
    volid: result.volid,
    kind: `${result.type === 'qemu' ? 'vm' : 'ct'} ${result.mode}`,
    bytesCopied: result.bytesCopied,
    durationMs: result.durationMs,
    throughput: result.throughput,
    verified: false,
    problem: null,
  };
}
