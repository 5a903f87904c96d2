import { isAbsolute, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { BpError, type BackupStoragePlugin } from '@bp/api';
import { describeConfigSchema, generatePerlModules, type GeneratedModules } from '@bp/pve';
import { usageError } from '../errors/usage-error.js';

/** Where `--perl-dir` points by default: PVE's Perl library directory (`BP_PVE_PERL_DIR` overrides it). */
export function defaultPerlDir(): string {
  return process.env.BP_PVE_PERL_DIR ?? '/usr/share/perl5';
}

function isPlugin(value: unknown): value is BackupStoragePlugin {
  const candidate = value as Partial<BackupStoragePlugin> | null;
  return typeof candidate === 'object' && candidate !== null && typeof candidate.open === 'function' && typeof candidate.type === 'string' && candidate.configSchema !== undefined;
}

/**
 * Imports a plugin package (a package name, or a path to its module file relative to `cwd`) and
 * picks its `BackupStoragePlugin` export: `exportName`, or the only plugin it exports.
 * Returns the plugin and the module reference the bridge's Node process imports.
 *
 * @throws BpError `BP_INVALID_ARGUMENT` when the package cannot be imported or has no (or several) plugins.
 */
export async function loadPluginPackage(spec: string, cwd: string, exportName?: string): Promise<{ plugin: BackupStoragePlugin; module: string; exportName: string }> {
  const isPath = spec.startsWith('.') || isAbsolute(spec);
  const module = isPath ? resolve(cwd, spec) : spec;
  let loaded: Record<string, unknown>;
  try {
    loaded = (await import(isPath ? pathToFileURL(module).href : module)) as Record<string, unknown>;
  } catch (error) {
    throw usageError(`cannot import plugin package ${JSON.stringify(spec)}: ${(error as Error).message}; install it next to bp (npm install) or give the path of its module file`);
  }
  const names = exportName === undefined ? Object.keys(loaded).filter((name) => isPlugin(loaded[name])) : [exportName];
  if (names.length !== 1) {
    throw usageError(
      names.length === 0
        ? `${spec} exports no storage plugin (an object with type, configSchema and open())`
        : `${spec} exports several storage plugins (${names.join(', ')}); choose one with --export`,
    );
  }
  const name = names[0]!;
  const plugin = loaded[name];
  if (!isPlugin(plugin)) throw usageError(`${spec} has no storage plugin export ${JSON.stringify(name)}`);
  return { plugin, module, exportName: name };
}

/** The Perl modules of a plugin package, as `bp pve install` and `bp pve package` write them. */
export async function perlModulesFor(spec: string, cwd: string, options: { type?: string | undefined; exportName?: string | undefined }): Promise<GeneratedModules & { plugin: BackupStoragePlugin }> {
  const { plugin, module, exportName } = await loadPluginPackage(spec, cwd, options.exportName);
  const type = options.type ?? plugin.type;
  if (!/^[a-z][a-z0-9-]*$/.test(type)) throw usageError(`storage type ${JSON.stringify(type)} is not valid: lowercase letters, digits and '-', starting with a letter`);
  try {
    return { ...generatePerlModules(plugin, { type, module, exportName }), plugin };
  } catch (error) {
    if (BpError.isInstance(error)) throw error;
    throw new BpError('BP_INVALID_CONFIG', `cannot generate the PVE modules of ${spec}: ${(error as Error).message}`, { cause: error });
  }
}

/** The storage.cfg stanza a user adds for a storage of `type` (required keys of the schema as placeholders). */
export function storageCfgStanza(type: string, storeId: string, plugin: BackupStoragePlugin): string {
  const lines = [`${type}: ${storeId}`];
  for (const { key, required } of describeConfigSchema(plugin.configSchema)) if (required) lines.push(`\t${key} ${key === 'path' ? '/srv/backup' : `<${key}>`}`);
  lines.push('\tcontent backup');
  return lines.join('\n');
}
