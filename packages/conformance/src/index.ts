export { testBackupProvider, testScenarioGroups } from './kit/test-backup-provider.js';
export { runScenario, NotApplicable, type RunScenarioOptions, type Scenario, type ScenarioAxis, type ScenarioContext } from './kit/scenario.js';
export { skipReason, type ScenarioGroup } from './kit/register.js';
export { conformanceError, Verifier } from './kit/verify.js';
export type {
  KitAssertion,
  KitDescribeFunction,
  KitExpect,
  KitOptions,
  KitTestContext,
  KitTestFunction,
  KitTimeouts,
  ProviderFactory,
  ProviderInstance,
  ProviderVariant,
} from './kit/types.js';
export { allGroups, scenarioById, containerGroup, factoryGroup, lifecycleGroup, restoreSafetyGroup, storageGroup, vmGroup } from './groups/index.js';
export { storageConfigForVariant } from './kit/variant-config.js';
