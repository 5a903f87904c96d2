import { BpError, type StorageSupports } from '@bp/api';
import { allGroups, NotApplicable, runScenario, skipReason, type ProviderFactory, type ProviderVariant, type Scenario } from '@bp/conformance';
import { kitExpect } from './kit-expect.js';

/** The outcome of one scenario run (one variant of it). */
export interface ScenarioOutcome {
  id: string;
  group: string;
  title: string;
  /** `nbd`, `file-handle`, `tar`, `squashfs`, or '' for scenarios that run once. */
  variant: string;
  status: 'pass' | 'fail' | 'skip';
  /** Why it failed (the broken behaviour) or was skipped. */
  reason?: string;
  durationMs: number;
}

/** Every value of an axis the kit knows; undeclared ones are reported as skipped. */
const AXES = { vmMechanism: ['nbd', 'file-handle'], containerFormat: ['tar', 'squashfs'] } as const;

function variantsOf(scenario: Scenario): Array<{ label: string; variant: ProviderVariant }> {
  if (scenario.axis === 'vmMechanism') return AXES.vmMechanism.map((vmMechanism) => ({ label: vmMechanism, variant: { vmMechanism } }));
  if (scenario.axis === 'containerFormat') return AXES.containerFormat.map((containerFormat) => ({ label: containerFormat, variant: { containerFormat } }));
  return [{ label: '', variant: {} }];
}

/** Options of {@link runKit}. */
export interface RunKitOptions {
  factory: ProviderFactory;
  supports: StorageSupports;
  /** Only these scenario ids (all when empty); unknown ids throw BP_NOT_FOUND. */
  only?: readonly string[];
  signal?: AbortSignal;
  /** Called after each scenario (progress lines). */
  onOutcome?: (outcome: ScenarioOutcome) => void;
}

/**
 * Runs the conformance kit's scenarios one after another, outside any test runner, the way
 * `testBackupProvider` registers them: once per declared VM mechanism or container format;
 * what the declaration rules out, or a scenario finds not applicable, is skipped with the reason.
 */
export async function runKit(options: RunKitOptions): Promise<ScenarioOutcome[]> {
  const known = new Set(allGroups.flatMap((group) => group.scenarios.map((scenario) => scenario.id)));
  for (const id of options.only ?? []) {
    if (!known.has(id)) throw new BpError('BP_NOT_FOUND', `no conformance scenario has id '${id}'; the ids are: ${[...known].join(', ')}`);
  }
  const only = new Set(options.only ?? []);
  const outcomes: ScenarioOutcome[] = [];
  for (const group of allGroups) {
    for (const scenario of group.scenarios) {
      if (only.size > 0 && !only.has(scenario.id)) continue;
      for (const { label, variant } of variantsOf(scenario)) {
        options.signal?.throwIfAborted();
        const started = Date.now();
        const base = { id: scenario.id, group: group.name, title: scenario.title, variant: label };
        let outcome: ScenarioOutcome;
        const reason = skipReason(scenario, variant, options.supports);
        if (reason !== undefined) {
          outcome = { ...base, status: 'skip', reason, durationMs: 0 };
        } else {
          try {
            await runScenario(scenario, { expect: kitExpect, factory: options.factory, supports: options.supports, variant, ...(options.signal ? { signal: options.signal } : {}) });
            outcome = { ...base, status: 'pass', durationMs: Date.now() - started };
          } catch (error) {
            if (options.signal?.aborted) throw error;
            outcome = NotApplicable.isInstance(error)
              ? { ...base, status: 'skip', reason: error.reason, durationMs: Date.now() - started }
              : { ...base, status: 'fail', reason: error instanceof Error ? error.message : String(error), durationMs: Date.now() - started };
          }
        }
        outcomes.push(outcome);
        options.onOutcome?.(outcome);
      }
    }
  }
  return outcomes;
}
