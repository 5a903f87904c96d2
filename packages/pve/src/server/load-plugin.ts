import { isAbsolute } from 'node:path';
import { pathToFileURL } from 'node:url';
import { assertSpecificationVersion, BpError, type BackupStoragePlugin } from '@bp/api';

/** Where a storage plugin is imported from (`BackupStoragePlugin.moduleRef`). */
export interface ModuleRef {
  /** A package name or an absolute path of the module file. */
  module: string;
  exportName: string;
}

/**
 * Imports a storage plugin by module reference, as @bp/host's container child does, and checks
 * its specification version. Throws BP_INVALID_CONFIG when the export is missing.
 */
export async function loadPlugin(moduleRef: ModuleRef): Promise<BackupStoragePlugin> {
  const specifier = isAbsolute(moduleRef.module) ? pathToFileURL(moduleRef.module).href : moduleRef.module;
  let loaded: Record<string, unknown>;
  try {
    loaded = (await import(specifier)) as Record<string, unknown>;
  } catch (error) {
    throw new BpError('BP_INVALID_CONFIG', `cannot import storage plugin module '${moduleRef.module}': ${(error as Error).message}; reinstall the plugin package`, { cause: error });
  }
  const plugin = loaded[moduleRef.exportName] as BackupStoragePlugin | undefined;
  if (!plugin || typeof plugin.open !== 'function') {
    throw new BpError('BP_INVALID_CONFIG', `module '${moduleRef.module}' has no storage plugin export '${moduleRef.exportName}'; fix the plugin's moduleRef`);
  }
  assertSpecificationVersion(plugin, `storage plugin '${plugin.type}'`);
  return plugin;
}
