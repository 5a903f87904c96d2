import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { BackupStorage, StorageSupports, VmBackupMode } from '@bp/api';
import type { KitExpect, ProviderFactory, ProviderVariant } from './types.js';
import { conformanceError, Verifier } from './verify.js';

/** Which configuration axis a scenario is repeated over. */
export type ScenarioAxis = 'none' | 'vmMechanism' | 'containerFormat';

/** One conformance scenario: a named behaviour, when it applies, and how to check it. */
export interface Scenario {
  /** Stable id, e.g. `vm.full-round-trip`. */
  id: string;
  /** Test title; names the behaviour checked. */
  title: string;
  /** Storage-only scenarios get the short timeout, the others the backup timeout. */
  kind: 'storage' | 'backup';
  /** Repeated once per declared VM mechanism or container format, or run once. */
  axis: ScenarioAxis;
  /** The `vm-backup-mode` the scenario needs (default: the provider's default). */
  vmMode?: VmBackupMode;
  /** Why the declaration rules the scenario out, or undefined when it applies. */
  requires?(supports: StorageSupports): string | undefined;
  run(context: ScenarioContext): Promise<void>;
}

/** What a running scenario gets. */
export interface ScenarioContext {
  readonly expect: KitExpect;
  readonly verify: Verifier;
  /** The variant this run is for (mechanism / format / mode). */
  readonly variant: ProviderVariant;
  readonly supports: StorageSupports;
  /** A fresh directory for fixtures, removed afterwards. */
  readonly scratch: string;
  readonly signal: AbortSignal | undefined;
  /** A fresh storage from the factory (this run's variant unless overridden); removed afterwards. */
  open(variant?: ProviderVariant): Promise<BackupStorage>;
  /** Registers a cleanup step; steps run in reverse order after the scenario, also on failure. */
  defer(step: () => Promise<void> | void): void;
  /** The factory itself, for checks of the factory. */
  readonly factory: ProviderFactory;
  /** Ends the scenario as not applicable to this provider (reported as skipped, with the reason). */
  notApplicable(reason: string): never;
}

/** Thrown by {@link ScenarioContext.notApplicable}. */
export class NotApplicable extends Error {
  constructor(readonly reason: string) {
    super(reason);
    this.name = 'NotApplicable';
  }
}

/** Arguments of {@link runScenario}. */
export interface RunScenarioOptions {
  expect: KitExpect;
  factory: ProviderFactory;
  supports: StorageSupports;
  variant?: ProviderVariant;
  signal?: AbortSignal;
}

/**
 * Runs one scenario outside any runner registration, cleaning up everything it created. Throws
 * what the scenario throws. Use it to reuse single scenarios in a provider's own tests, or to
 * show that a deliberately broken provider fails one.
 */
export async function runScenario(scenario: Scenario, options: RunScenarioOptions): Promise<void> {
  const scratch = await mkdtemp(join(tmpdir(), `bp-conformance-${scenario.id.replace(/[^a-z0-9]+/gi, '-')}-`));
  const steps: Array<() => Promise<void> | void> = [];
  const variant: ProviderVariant = { ...options.variant, ...(scenario.vmMode ? { vmMode: scenario.vmMode } : {}) };
  const context: ScenarioContext = {
    expect: options.expect,
    verify: new Verifier(options.expect),
    variant,
    supports: options.supports,
    scratch,
    signal: options.signal,
    defer: (step) => void steps.push(step),
    factory: options.factory,
    notApplicable: (reason) => {
      throw new NotApplicable(reason);
    },
    open: async (override) => {
      let instance;
      try {
        instance = await options.factory({ ...variant, ...override });
      } catch (error) {
        throw conformanceError(`factory(${JSON.stringify({ ...variant, ...override })}) failed`, error);
      }
      steps.push(() => instance.cleanup());
      return instance.storage;
    },
  };
  try {
    await scenario.run(context);
  } finally {
    for (const step of steps.reverse()) {
      try {
        await step();
      } catch {
        // Cleanup failures must not hide the scenario's verdict; the factory check covers cleanup.
      }
    }
    await rm(scratch, { recursive: true, force: true }).catch(() => {});
  }
}
