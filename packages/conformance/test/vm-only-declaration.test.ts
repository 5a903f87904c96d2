// A provider that declares no container format still gets the storage and lifecycle scenarios:
// the kit then makes its backups from VMs (with the backup times the scenarios need).
import { describe, expect, test } from 'vitest';
import { dirExamplePlugin } from '@bp/dir-example';
import { runScenario, scenarioById } from '../src/index.js';
import { dirExampleFactory } from './support/dir-factory.js';

const vmOnly = { ...dirExamplePlugin.supports, containerFormats: [] };

describe('storage and lifecycle scenarios from VM backups', () => {
  for (const id of ['storage.listed-after-success', 'storage.prune', 'lifecycle.fresh-instances', 'lifecycle.cleanup-twice', 'lifecycle.failed-then-good']) {
    test(id, async () => {
      await runScenario(scenarioById(id), { expect, factory: dirExampleFactory(), supports: vmOnly });
    });
  }
});
