import type { StorageSupports } from '@bp/api';
import type { Scenario } from './scenario.js';
import { NotApplicable, runScenario } from './scenario.js';
import type { KitOptions, KitTestContext, ProviderVariant } from './types.js';
import { conformanceError } from './verify.js';

const DEFAULT_TIMEOUTS = { storage: 60_000, backup: 240_000 };

/** Every value of an axis the kit knows; undeclared ones are skipped (or not registered). */
const AXIS_UNIVERSE = {
  vmMechanism: ['nbd', 'file-handle'],
  containerFormat: ['tar', 'squashfs'],
} as const;

/** A named group of scenarios, e.g. `lifecycle`. */
export interface ScenarioGroup {
  name: string;
  scenarios: readonly Scenario[];
}

/** Reads the provider's declaration once per kit run (from the first factory call). */
export function declarationReader(options: KitOptions): () => Promise<StorageSupports> {
  let pending: Promise<StorageSupports> | undefined;
  return () => {
    pending ??= (async () => {
      if (options.supports) return options.supports;
      let instance;
      try {
        instance = await options.factory({});
      } catch (error) {
        throw conformanceError('factory({}) failed while reading the provider declaration', error);
      }
      try {
        return instance.storage.plugin.supports;
      } finally {
        await instance.cleanup();
      }
    })();
    return pending;
  };
}

function variantsOf(scenario: Scenario, supports: StorageSupports | undefined): Array<{ label: string; variant: ProviderVariant }> {
  if (scenario.axis === 'none') return [{ label: '', variant: {} }];
  if (scenario.axis === 'vmMechanism') {
    const values = supports ? supports.vmMechanisms : AXIS_UNIVERSE.vmMechanism;
    return values.map((vmMechanism) => ({ label: ` [${vmMechanism}]`, variant: { vmMechanism } }));
  }
  const values = supports ? supports.containerFormats : AXIS_UNIVERSE.containerFormat;
  return values.map((containerFormat) => ({ label: ` [${containerFormat}]`, variant: { containerFormat } }));
}

/** Why `variant` of `scenario` does not apply to the declaration, or undefined. */
export function skipReason(scenario: Scenario, variant: ProviderVariant, supports: StorageSupports): string | undefined {
  if (variant.vmMechanism && !supports.vmMechanisms.includes(variant.vmMechanism)) {
    return `the provider does not declare VM mechanism '${variant.vmMechanism}'`;
  }
  if (variant.containerFormat && !supports.containerFormats.includes(variant.containerFormat)) {
    return `the provider does not declare container format '${variant.containerFormat}'`;
  }
  if (scenario.vmMode === 'incremental' && !supports.incremental) return 'the provider does not declare incremental VM backups';
  return scenario.requires?.(supports);
}

/** Registers one test per scenario and applicable variant on the caller's runner. */
export function registerGroups(options: KitOptions, groups: readonly ScenarioGroup[]): void {
  const readDeclaration = declarationReader(options);
  const timeouts = { ...DEFAULT_TIMEOUTS, ...options.timeouts };
  for (const group of groups) {
    if (group.scenarios.length === 0) continue;
    const register = (prefix: string): void => {
      for (const scenario of group.scenarios) {
        for (const { label, variant } of variantsOf(scenario, options.supports)) {
          // With a static declaration, scenarios it rules out are not registered at all.
          if (options.supports && skipReason(scenario, variant, options.supports) !== undefined) continue;
          options.test(
            `${prefix}${scenario.title}${label}`,
            async (context: KitTestContext) => {
              const supports = await readDeclaration();
              const reason = skipReason(scenario, variant, supports);
              if (reason !== undefined) {
                context.skip?.(reason);
                return;
              }
              try {
                await runScenario(scenario, { expect: context.expect, factory: options.factory, supports, variant, ...(context.signal ? { signal: context.signal } : {}) });
              } catch (error) {
                if (!NotApplicable.isInstance(error)) throw error;
                context.skip?.(error.reason);
              }
            },
            timeouts[scenario.kind],
          );
        }
      }
    };
    if (options.describe) options.describe(group.name, () => register(''));
    else register(`${group.name}: `);
  }
}
