// The README's example, verbatim: a third party wires the kit in with these lines.
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'vitest';
import { dirExamplePlugin } from '@bp/dir-example';
import { storageConfigForVariant, testBackupProvider } from '@bp/conformance';

testBackupProvider({ test, describe, factory: async (variant) => {
  const path = await mkdtemp(join(tmpdir(), 'bp-conformance-dir-'));
  await chmod(path, 0o755); // the container scenarios write as the container's mapped root
  const config = dirExamplePlugin.configSchema.parse({ path, ...storageConfigForVariant(variant) });
  return { storage: dirExamplePlugin.open('conformance', config), cleanup: () => rm(path, { recursive: true, force: true }) };
} });
