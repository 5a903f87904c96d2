// A storage plugin for the zoo: the reference provider with one bug class applied, selected by
// the `conformance-zoo` config key. Its moduleRef points at this file, so the container backup
// child (which re-imports the plugin) runs the same broken variant as every other scenario.
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { storageConfigObjectSchema, type BackupStorage, type BackupStoragePlugin, type StorageConfig } from '@bp/api';
import { dirExamplePlugin } from '@bp/dir-example';
import { breakStorage } from './break-provider.js';
import { zoo } from './zoo.js';

const zooConfigSchema = storageConfigObjectSchema.extend({ 'conformance-zoo': z.string() });

/** The zoo plugin's config: the reference provider's plus the bug class to apply. */
export type ZooConfig = z.output<typeof zooConfigSchema>;

/** The reference plugin with the bug class named by `conformance-zoo` applied to every storage it opens. */
export const zooPlugin: BackupStoragePlugin<ZooConfig> = {
  ...(dirExamplePlugin as unknown as BackupStoragePlugin<ZooConfig>),
  configSchema: zooConfigSchema,
  moduleRef: { module: fileURLToPath(import.meta.url), exportName: 'zooPlugin' },
  open(storeId: string, config: ZooConfig): BackupStorage<ZooConfig> {
    const { 'conformance-zoo': name, ...dirConfig } = config;
    const bug = zoo.find((candidate) => candidate.name === name);
    if (!bug) throw new Error(`no zoo class '${name}'`);
    const real = dirExamplePlugin.open(storeId, dirConfig as StorageConfig);
    const broken = breakStorage(real as BackupStorage, bug.breakage(real), zooPlugin as BackupStoragePlugin);
    // The storage's config is the zoo config: what the container child and reopen() receive.
    return new Proxy(broken, { get: (target, property, receiver) => (property === 'config' ? config : Reflect.get(target, property, receiver)) }) as BackupStorage<ZooConfig>;
  },
};
