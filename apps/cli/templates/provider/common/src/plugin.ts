import { fileURLToPath } from 'node:url';
import { defineStoragePlugin, storageConfigSchema, type BackupStoragePlugin, type StorageConfig } from '@bp/api';
import { createProvider } from './provider.js';
import { openStorage } from './storage.js';
import { supports } from './supports.js';

/**
 * The __NAME__ storage plugin. `defineStoragePlugin` and `defineProvider` make every operation the
 * `supports` declaration rules out throw BP_NOT_SUPPORTED; declare more as you implement it.
 */
export const plugin: BackupStoragePlugin<StorageConfig> = defineStoragePlugin({
  type: '__TYPE__',
  configSchema: storageConfigSchema,
  supports,
  // Container backups run in a child process as the container's mapped root, which re-imports
  // the built plugin from here (`npm run build` first; `npm test` does).
  moduleRef: { module: fileURLToPath(new URL('../dist/plugin.js', import.meta.url)), exportName: 'plugin' },
  open: (storeId, config) => openStorage(storeId, config, supports, (layout, log) => createProvider(layout, config, log)),
});
