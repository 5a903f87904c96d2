import { createHash } from 'node:crypto';
import type { IncrementalAnswers, LogFunction, VmDeviceSizes, VmVolumes } from '@bp/api';

/**
 * The storage instance ID of a Perl provider storage (the @bp/api extension `storageInstanceId`):
 * derived from the storage type, ID and `$scfg` (its `path` included), so two storages under one
 * storage ID differ, and bp's standalone host names their dirty bitmaps apart. A Perl provider
 * never sees it: PVE's API has no such thing.
 */
export function storageInstanceOf(type: string, storeId: string, scfg: Record<string, unknown>): string {
  const sorted = Object.fromEntries(Object.entries(scfg).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
  return `perl-${createHash('sha256').update(`${type}\0${storeId}\0${JSON.stringify(sorted)}`).digest('hex').slice(0, 24)}`;
}

/**
 * bp's standalone host tells a provider which bitmap generation it would reuse
 * (`devices[d].bitmap`); PVE's API cannot pass that on to a Perl provider. This guard keeps,
 * per storage instance, guest and device, the generation of the last backup that succeeded, and
 * turns a Perl `use` into `new` when the host's bitmap is missing or of another generation (a
 * copy of the disk, another consumer) — the rule `decideIncremental` applies for TypeScript
 * providers. Under PVE's bitmap naming (no identity reported) the Perl answer stands unchanged.
 * Records live in this process: after a restart the first backup of each disk is full.
 */
export class BitmapGuard {
  private readonly committed = new Map<string, string>();
  private readonly pending = new Map<string, Map<string, string>>();

  constructor(private readonly instance: string) {}

  private key(vmid: number, device: string): string {
    return `${this.instance}\0${vmid}\0${device}`;
  }

  /** The Perl provider's answers, with `use` refused where the host's bitmap is not ours. */
  check(vmid: number, devices: VmDeviceSizes, answers: IncrementalAnswers, log: LogFunction): IncrementalAnswers {
    if (!answers) return answers;
    const checked = { ...answers };
    for (const [device, answer] of Object.entries(answers)) {
      const identity = devices[device]?.bitmap;
      if (answer !== 'use' || identity === undefined) continue;
      const recorded = this.committed.get(this.key(vmid, device));
      if (identity?.usable && recorded === identity.generation) continue;
      checked[device] = 'new';
      log('info', `${device}: full backup instead of the Perl provider's 'use': the dirty bitmap ${identity ? `of generation ${identity.generation}` : '(none)'} does not continue from its last backup`);
    }
    return checked;
  }

  /** `backupVm` returned: the generations its bitmaps get once the backup is committed. */
  stored(vmid: number, volumes: VmVolumes): void {
    const generations = new Map<string, string>();
    for (const [device, volume] of Object.entries(volumes)) if (volume.bitmapGeneration) generations.set(device, volume.bitmapGeneration);
    this.pending.set(String(vmid), generations);
  }

  /** `backupCleanup`: a success commits the generations; a failure forgets this guest's (QEMU may have reset them, spec H1). */
  cleanup(vmid: number, success: boolean): void {
    const generations = this.pending.get(String(vmid));
    this.pending.delete(String(vmid));
    if (success) {
      for (const [device, generation] of generations ?? []) this.committed.set(this.key(vmid, device), generation);
      return;
    }
    for (const key of [...this.committed.keys()]) if (key.startsWith(`${this.instance}\0${vmid}\0`)) this.committed.delete(key);
  }
}
