import { allGroups } from '../groups/index.js';
import { registerGroups, type ScenarioGroup } from './register.js';
import type { KitOptions } from './types.js';

/**
 * Registers the conformance kit on the caller's runner: every scenario group, once per VM
 * mechanism and container format the provider declares.
 *
 * ```ts
 * import { test, describe } from 'vitest';
 * testBackupProvider({ test, describe, factory: async (variant) => ({ storage, cleanup }) });
 * ```
 *
 * The kit imports no test runner: tests are registered through `options.test` and assert with
 * the test context's `expect`. Failures name the broken behaviour.
 */
export function testBackupProvider(options: KitOptions): void {
  registerGroups(options, allGroups);
}

/** Registers only the given groups (e.g. `[storageGroup]`), for reuse in a provider's own tests. */
export function testScenarioGroups(options: KitOptions, groups: readonly ScenarioGroup[]): void {
  registerGroups(options, groups);
}
