import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'vitest';
import { storageConfigForVariant, testBackupProvider } from '@bp/conformance';
import { plugin } from '../src/plugin.js';

// The conformance kit runs every scenario this provider's `supports` declares, with real QEMU and
// real data, and reports the others as skipped with the reason.
testBackupProvider({
  test,
  describe,
  factory: async (variant) => {
    const path = await mkdtemp(join(tmpdir(), '__TYPE__-'));
    await chmod(path, 0o755); // container scenarios write as the container's mapped root
    const config = plugin.configSchema.parse({ path, ...storageConfigForVariant(variant) });
    return { storage: plugin.open('conformance', config), cleanup: () => rm(path, { recursive: true, force: true }) };
  },
});
