import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { BackupStorage, StorageConfig } from '@bp/api';
import { dirExamplePlugin } from '@bp/dir-example';
import { storageConfigForVariant, type ProviderFactory } from '../../src/index.js';
import { zooPlugin } from './zoo-plugin.js';

/** A dir-example factory whose storages are passed through `decorate`. */
export function dirExampleFactory(decorate: (storage: BackupStorage<StorageConfig>) => BackupStorage = (storage) => storage): ProviderFactory {
  return async (variant) => {
    const path = await mkdtemp(join(tmpdir(), 'bp-conformance-dir-'));
    await chmod(path, 0o755);
    const config = dirExamplePlugin.configSchema.parse({ path, ...storageConfigForVariant(variant) });
    return { storage: decorate(dirExamplePlugin.open('conformance', config)), cleanup: () => rm(path, { recursive: true, force: true }) };
  };
}

/** A factory of the zoo plugin with bug class `name` (see support/zoo.ts). */
export function zooFactory(name: string): ProviderFactory {
  return async (variant) => {
    const path = await mkdtemp(join(tmpdir(), 'bp-conformance-zoo-'));
    await chmod(path, 0o755);
    const config = zooPlugin.configSchema.parse({ path, ...storageConfigForVariant(variant), 'conformance-zoo': name });
    return { storage: zooPlugin.open('conformance', config), cleanup: () => rm(path, { recursive: true, force: true }) };
  };
}
