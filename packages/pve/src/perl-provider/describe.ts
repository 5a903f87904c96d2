import { isAbsolute, resolve } from 'node:path';
import { BpError, type ContainerFormat, type StorageSupports, type VmBackupMechanism } from '@bp/api';
import { callOnce, type RunnerSpec } from './runner.js';

/** What the runner reports about a Perl storage plugin (`runner.describe`). */
export interface PerlPluginDescription {
  module: string;
  /** `type()` of the plugin: the storage type in storage.cfg. */
  type: string;
  /** `api()`: the storage API version the plugin implements. */
  api?: number;
  /** `plugindata()->{features}`; a backup provider has `backup-provider`. */
  features: Record<string, unknown>;
  /** `properties()`: key -> { type, enum, default, description }. */
  properties: Record<string, { type?: string; enum?: string[]; default?: unknown; description?: string }>;
  /** Storage methods the plugin defines itself (true) or inherits from PVE::Storage::Plugin (false). */
  methods: Record<string, boolean>;
  /** True when PVE::Tools came from the compatibility layer (no PVE installed here). */
  compat: boolean;
}

/** Include directories as absolute paths (the runner may run with another working directory). */
export function absoluteIncludes(include: readonly string[] | undefined): string[] {
  return (include ?? []).map((dir) => (isAbsolute(dir) ? dir : resolve(dir)));
}

/** Loads the plugin in a runner of its own and describes it. Throws what loading it threw. */
export function describePerlPlugin(spec: RunnerSpec): PerlPluginDescription {
  const description = callOnce(spec, 'runner.describe', {}) as PerlPluginDescription | null;
  if (!description || typeof description.type !== 'string' || description.type === '') {
    throw new BpError('BP_INVALID_CONFIG', `Perl module ${spec.module} has no type(); it is not a PVE storage plugin`);
  }
  if (!description.features?.['backup-provider'] || description.methods?.new_backup_provider !== true) {
    throw new BpError('BP_INVALID_CONFIG', `Perl module ${spec.module} is not a backup provider storage: plugindata() must declare features => { 'backup-provider' => 1 } and the module must define new_backup_provider`);
  }
  return description;
}

function enumOf(description: PerlPluginDescription, key: string): string[] | undefined {
  const values = description.properties[key]?.enum;
  return Array.isArray(values) ? values.map(String) : undefined;
}

/**
 * What a Perl provider supports, read from what it defines (a Perl provider declares nothing):
 * VM mechanisms and container formats from the enums of `vm-backup-mechanism` and
 * `lxc-backup-mode` (the directory example's options; both mechanisms and `tar` when absent),
 * incremental when `vm-backup-mode` offers it, prune / delete / notes and protected when the
 * plugin defines `prune_backups` / `free_image` / `update_volume_attribute` itself.
 */
export function supportsOf(description: PerlPluginDescription): StorageSupports {
  const mechanisms = (enumOf(description, 'vm-backup-mechanism') ?? ['nbd', 'file-handle']).filter((value): value is VmBackupMechanism => value === 'nbd' || value === 'file-handle');
  const formats = (enumOf(description, 'lxc-backup-mode') ?? ['tar']).filter((value): value is ContainerFormat => value === 'tar' || value === 'squashfs');
  const attributes = description.methods.update_volume_attribute === true;
  return {
    vmMechanisms: mechanisms,
    incremental: (enumOf(description, 'vm-backup-mode') ?? []).includes('incremental'),
    containerFormats: formats,
    notes: attributes,
    protected: attributes,
    prune: description.methods.prune_backups === true,
    delete: description.methods.free_image === true,
    verify: false,
  };
}
