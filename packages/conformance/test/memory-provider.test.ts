import { describe, expect, test } from 'vitest';
import { createMemoryPlugin, type MemoryPluginOptions } from '@bp/api/testing';
import { runScenario, scenarioById, testBackupProvider, type ProviderFactory } from '../src/index.js';

// @bp/api's in-memory provider (built with defineStoragePlugin/defineProvider) through the whole
// kit, like the directory example: it proves the contract and the helpers, not just compiles them.
let count = 0;
function memoryFactory(options: MemoryPluginOptions = {}): ProviderFactory {
  return async (variant) => {
    const plugin = createMemoryPlugin(options);
    count += 1;
    const config = plugin.configSchema.parse({ name: `conformance-${count}`, ...(variant.vmMode ? { 'vm-backup-mode': variant.vmMode } : {}) });
    return { storage: plugin.open('conformance', config), cleanup: async () => {} };
  };
}

testBackupProvider({ test, describe, factory: memoryFactory() });

describe('a memory storage that leaves operations out', () => {
  test('refuses them with BP_NOT_SUPPORTED, as the kit demands (defineStoragePlugin fills them in)', async () => {
    const options: MemoryPluginOptions = { without: ['notes', 'prune', 'delete'] };
    const { supports } = createMemoryPlugin(options);
    expect(supports).toMatchObject({ notes: false, prune: false, delete: false, protected: true });
    await runScenario(scenarioById('storage.undeclared-refused'), { expect, factory: memoryFactory(options), supports });
  });
});
