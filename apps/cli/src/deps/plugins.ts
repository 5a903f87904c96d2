import { assertSpecificationVersion, BpError, type BackupStoragePlugin } from '@bp/api';
import { dirExamplePlugin } from '@bp/dir-example';

/** The storage type name of the reference directory plugin, used for the embedded storages. */
export function dirExampleType(): string {
  return dirExamplePlugin.type;
}

/** Every storage plugin this CLI knows, by type. */
export function knownPlugins(): Map<string, BackupStoragePlugin> {
  const plugin = dirExamplePlugin as BackupStoragePlugin;
  assertSpecificationVersion(plugin, `storage plugin ${plugin.type}`);
  return new Map([[plugin.type, plugin]]);
}

/** The plugin for `type`, or BP_INVALID_CONFIG naming the known types. */
export function pluginForType(type: string): BackupStoragePlugin {
  const plugins = knownPlugins();
  const plugin = plugins.get(type);
  if (!plugin) {
    throw new BpError('BP_INVALID_CONFIG', `unknown storage type ${JSON.stringify(type)}; known types: ${[...plugins.keys()].join(', ')}`, {
      details: { type },
    });
  }
  return plugin;
}
