import { BpError } from '@bp/api';
import type { Scenario } from '../kit/scenario.js';
import type { ScenarioGroup } from '../kit/register.js';
import { containerScenarios } from './container.js';
import { factoryScenarios } from './factory.js';
import { lifecycleScenarios } from './lifecycle.js';
import { restoreSafetyScenarios } from './restore-safety.js';
import { storageScenarios } from './storage.js';
import { vmScenarios } from './vm.js';

/** Checks of the factory itself; the kit runs them first. */
export const factoryGroup: ScenarioGroup = { name: 'factory', scenarios: factoryScenarios };
/** Call orders of spec 1.1 and 1.7: fresh instances, cleanup without init or twice, log hand-off, failed guests. */
export const lifecycleGroup: ScenarioGroup = { name: 'lifecycle', scenarios: lifecycleScenarios };
/** Listing, prune, protection, notes, declaration consistency. */
export const storageGroup: ScenarioGroup = { name: 'storage', scenarios: storageScenarios };
/** VM backups and restores with real QEMU: full, incremental, concurrent writes, lost bitmaps, discard, bandwidth, H1, chains. */
export const vmGroup: ScenarioGroup = { name: 'vm', scenarios: vmScenarios };
/** Container tree round trips, privileged and as the mapped root. */
export const containerGroup: ScenarioGroup = { name: 'container', scenarios: containerScenarios };
/** Hostile restore inputs and source read faults. */
export const restoreSafetyGroup: ScenarioGroup = { name: 'safety', scenarios: restoreSafetyScenarios };

/** Every group, in the order the kit registers them. */
export const allGroups: readonly ScenarioGroup[] = [factoryGroup, lifecycleGroup, storageGroup, vmGroup, containerGroup, restoreSafetyGroup];

/** The scenario with this id (e.g. `vm.full-round-trip`); throws for an unknown id. */
export function scenarioById(id: string): Scenario {
  for (const group of allGroups) {
    const found = group.scenarios.find((scenario) => scenario.id === id);
    if (found) return found;
  }
  throw new BpError('BP_NOT_FOUND', `no conformance scenario has id '${id}'; see allGroups for the ids`);
}
