import { assertSpecificationVersion, BpError, type BackupStoragePlugin } from '@bp/api';
import * as dirExample from '@bp/dir-example';
import { optionalExport } from './optional-export.js';

/** The storage type name of the reference directory plugin, used for the embedded storages. */
export function dirExampleType(): string {
  const plugin = (dirExample as Record<string, unknown>).dirExamplePlugin as { type?: unknown } | undefined;
  return typeof plugin?.type === 'string' ? plugin.type : 'bp-dir';
}

/** Every storage plugin this CLI knows, by type. */
export function knownPlugins(): Map<string, BackupStoragePlugin> {
  const plugin = optionalExport<BackupStoragePlugin>(dirExample, '@bp/dir-example', 'dirExamplePlugin');
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
