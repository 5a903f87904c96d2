import { fileURLToPath } from 'node:url';
import { BpError, CURRENT_SPECIFICATION_VERSION, defineStoragePlugin, type BackupProvider, type BackupStoragePlugin, type LogFunction, type StorageSupports } from '@bp/api';
import { z } from 'zod';
import { pvePackageRoot } from '../generate/package-files.js';
import { BitmapGuard, storageInstanceOf } from './bitmap-guard.js';
import { absoluteIncludes, describePerlPlugin, supportsOf, type PerlPluginDescription } from './describe.js';
import * as from from './from-perl.js';
import { PerlRunner, callOnce, type RunnerCallOptions, type RunnerSpec } from './runner.js';
import { containerInfoToPerl, deviceSizesToPerl, vmInfoToPerl, vmVolumesToPerl } from './to-perl.js';

/** Options of {@link perlProvider}. */
export interface PerlProviderOptions {
  /** The Perl storage plugin module, e.g. `PVE::Storage::Custom::MyPlugin`. */
  module: string;
  /** Directories searched for it (and its provider class) before everything else. */
  include?: readonly string[];
  /** storage.cfg keys every storage of this plugin gets (a storage's own config wins). */
  config?: Record<string, unknown>;
  /** Time limit of each Perl call in ms (default 10 minutes); the runner is killed beyond it. */
  timeoutMs?: number;
  /** Overrides what is read from the plugin (see {@link supportsOf}). */
  supports?: Partial<StorageSupports>;
  /** The perl binary (default `perl`). */
  perl?: string;
}

/** The storage config of a Perl provider storage: PVE's `$scfg` keys, plus `bp-perl` (how to load it again). */
export type PerlStorageConfig = Record<string, unknown>;

/** Everything a child process needs to load the same Perl provider (stored in the config as `bp-perl`). */
export interface PerlProviderSpec {
  module: string;
  include: string[];
  timeoutMs: number;
  perl?: string;
  type: string;
  supports: StorageSupports;
  config: Record<string, unknown>;
}

/** A Perl provider as a {@link BackupStoragePlugin}, plus what only it has. */
export interface PerlStoragePlugin extends BackupStoragePlugin<PerlStorageConfig> {
  /** The plugin as its runner described it (undefined when the spec came from a config). */
  readonly description: PerlPluginDescription | undefined;
  readonly spec: PerlProviderSpec;
  /** Ends the runners of storages opened with `config` (all when absent); they start again on use. */
  close(config?: PerlStorageConfig): Promise<void>;
}

export const DEFAULT_PERL_TIMEOUT_MS = 600_000;
/** The config key that carries the {@link PerlProviderSpec}. */
export const PERL_SPEC_KEY = 'bp-perl';

const configSchema = z.record(z.string(), z.unknown()) as z.ZodType<PerlStorageConfig, unknown>;

// The module the container backup child re-imports (moduleRef): from the build dist/perl-provider-ref.js
// of the installed package, from sources src/perl-provider/ref.ts.
const runningFromSources = import.meta.url.endsWith('.ts');
const refModule = (): string => (runningFromSources ? fileURLToPath(new URL('./ref.ts', import.meta.url)) : `${pvePackageRoot()}dist/perl-provider-ref.js`);

/** PVE's `$scfg` for a storage config: the plugin's keys, `type`, `content => { backup => 1 }`. */
function scfgOf(type: string, config: PerlStorageConfig): Record<string, unknown> {
  const scfg: Record<string, unknown> = { content: { backup: 1 } };
  for (const [key, value] of Object.entries(config)) {
    if (key === PERL_SPEC_KEY || value === undefined || value === null) continue;
    scfg[key] = typeof value === 'boolean' ? (value ? 1 : 0) : value;
  }
  scfg.type = type;
  return scfg;
}

const cache = new Map<string, PerlStoragePlugin>();

/**
 * An existing Perl backup provider (a `PVE::Storage::Custom::*` module with the
 * `backup-provider` feature, and the provider class its `new_backup_provider` returns) as a
 * `@bp/api` storage plugin, so that bp's host and the conformance kit can drive it without PVE:
 *
 * ```ts
 * const plugin = perlProvider({ module: 'PVE::Storage::Custom::MyPlugin', include: ['./src'] });
 * const storage = plugin.open('mystore', { path: '/srv/backup' });
 * ```
 *
 * Every call runs the Perl method in a runner process (`perl/bin/bp-perl-runner`): one per
 * storage for the storage methods, one per provider object, whose Perl object lives as long as
 * it (PVE creates one per job or restore entry point). Arguments have the shapes PVE passes;
 * `file-handle` volumes arrive as real file handles, the log function streams back. PVE modules
 * the provider uses come from the machine when installed, else from this package's
 * compatibility layer (`perl/compat`). A Perl `die` fails the call with its `BP_*` code
 * (`BP_PROVIDER_FAILED` unless the message starts with one) and names the Perl method; a call
 * beyond `timeoutMs` kills the runner (`BP_TIMEOUT`). Loads the module once to describe it
 * (type, properties, supports); throws `BP_INVALID_CONFIG` if it is not a backup provider.
 */
export function perlProvider(options: PerlProviderOptions): PerlStoragePlugin {
  const runner: RunnerSpec = {
    module: options.module,
    include: absoluteIncludes(options.include),
    timeoutMs: options.timeoutMs ?? DEFAULT_PERL_TIMEOUT_MS,
    ...(options.perl ? { perl: options.perl } : {}),
  };
  const description = describePerlPlugin(runner);
  const spec: PerlProviderSpec = {
    ...runner,
    include: [...runner.include],
    type: description.type,
    supports: { ...supportsOf(description), ...options.supports },
    config: { ...options.config },
  };
  return pluginOf(spec, description);
}

/** The plugin of a spec a config carried (the container backup child's re-import); cached per spec. */
export function perlProviderFromSpec(spec: PerlProviderSpec): PerlStoragePlugin {
  const key = JSON.stringify(spec);
  let plugin = cache.get(key);
  if (!plugin) {
    plugin = pluginOf(spec, undefined);
    cache.set(key, plugin);
  }
  return plugin;
}

function pluginOf(spec: PerlProviderSpec, description: PerlPluginDescription | undefined): PerlStoragePlugin {
  const runnerSpec: RunnerSpec = { module: spec.module, include: spec.include, timeoutMs: spec.timeoutMs, ...(spec.perl ? { perl: spec.perl } : {}) };
  const { supports, type } = spec;
  // Runners by the storage config they serve, so the kit's cleanup can end a storage's runners.
  const runners = new Map<string, Set<PerlRunner>>();
  const track = (key: string, runner: PerlRunner): void => {
    let set = runners.get(key);
    if (!set) runners.set(key, (set = new Set()));
    set.add(runner);
  };
  const keyOf = (config: PerlStorageConfig): string => JSON.stringify(scfgOf(type, config));
  // One guard per storage instance, shared by its provider objects (one per job or entry point).
  const guards = new Map<string, BitmapGuard>();

  const base = defineStoragePlugin<PerlStorageConfig>({
    specificationVersion: CURRENT_SPECIFICATION_VERSION,
    type,
    configSchema,
    supports,
    moduleRef: { module: refModule(), exportName: 'perlProviderPlugin' },
    open(storeId, config) {
      const scfg = scfgOf(type, config);
      const key = keyOf(config);
      const instance = storageInstanceOf(type, storeId, scfg);
      let guard = guards.get(instance);
      if (!guard) guards.set(instance, (guard = new BitmapGuard(instance)));
      const bitmapGuard = guard;
      let storageRunner: PerlRunner | undefined;
      const volnames = new Map<string, ReturnType<typeof from.parsedVolnameOf>>();
      const method = (name: string): string => `${spec.module}->${name}`;
      const storageCall = async (name: string, params: Record<string, unknown>, options: RunnerCallOptions = {}): Promise<unknown> => {
        if (!storageRunner?.alive) {
          storageRunner = new PerlRunner(runnerSpec, `storage '${storeId}' (${spec.module})`);
          track(key, storageRunner);
          await storageRunner.hello();
        }
        return storageRunner.call(`storage.${name}`, { storeid: storeId, scfg, ...params }, options);
      };
      return {
        parseVolname(volname) {
          const cached = volnames.get(volname);
          if (cached) return cached;
          const parsed = from.parsedVolnameOf(method('parse_volname'), callOnce(runnerSpec, 'storage.parse_volname', { volname }));
          volnames.set(volname, parsed);
          return parsed;
        },
        path: async (volname) => from.pathOf(method('path'), await storageCall('path', { volname, snapname: null })),
        listVolumes: async (filter = {}) => from.volumesOf(method('list_volumes'), await storageCall('list_volumes', { vmid: filter.vmid ?? null, 'content-types': ['backup'] })),
        volumeSizeInfo: async (volname) => from.sizeInfoOf(method('volume_size_info'), await storageCall('volume_size_info', { volname, timeout: null })),
        status: async () => from.statusOf(method('status'), await storageCall('status', { cache: {} })),
        activateStorage: async (options = {}) => {
          await storageCall('activate_storage', { cache: {} }, options.timeoutMs ? { timeoutMs: options.timeoutMs } : {});
        },
        ...(supports.prune
          ? {
              pruneBackups: async (keep, options = {}) =>
                from.pruneEntriesOf(
                  method('prune_backups'),
                  await storageCall('prune_backups', { keep: keepToPerl(keep), vmid: options.vmid ?? null, type: options.type ?? null, dryrun: options.dryRun ? 1 : 0 }, options.log ? { log: options.log } : {}),
                ),
            }
          : {}),
        ...(supports.delete
          ? {
              freeImage: async (volname: string) => {
                await storageCall('free_image', { volname, isBase: 0, format: null });
              },
            }
          : {}),
        ...(supports.notes || supports.protected
          ? {
              getVolumeAttribute: async (volname: string, attribute: 'notes' | 'protected') => {
                const value = await storageCall('get_volume_attribute', { volname, attribute });
                if (value === null || value === undefined) return undefined;
                return attribute === 'protected' ? value !== 0 && value !== '0' && value !== '' : String(value);
              },
              updateVolumeAttribute: async (volname: string, attribute: 'notes' | 'protected', value: string | boolean) => {
                await storageCall('update_volume_attribute', { volname, attribute, value: typeof value === 'boolean' ? (value ? 1 : 0) : value });
              },
            }
          : {}),
        newBackupProvider: (log) => perlBackupProvider(runnerSpec, storeId, scfg, log, (runner) => track(key, runner), bitmapGuard),
      };
    },
  });

  const plugin: PerlStoragePlugin = {
    ...base,
    description,
    spec,
    open(storeId, config) {
      const merged = { ...spec.config, ...config };
      const storage = base.open(storeId, merged);
      const instance = storageInstanceOf(type, storeId, scfgOf(type, merged));
      // The config carries the spec, so the container backup child (which re-imports the plugin
      // from moduleRef and opens the storage from its config) loads the same Perl provider.
      return { ...storage, plugin, config: { ...storage.config, [PERL_SPEC_KEY]: spec }, storageInstanceId: async () => instance };
    },
    async close(config) {
      const keys = config === undefined ? [...runners.keys()] : [keyOf({ ...spec.config, ...config })];
      const closing: Promise<void>[] = [];
      for (const key of keys) {
        for (const runner of runners.get(key) ?? []) closing.push(runner.close());
        runners.delete(key);
      }
      await Promise.all(closing);
    },
  };
  return plugin;
}

/** `$keep` as PVE passes it: the parsed hash (`{ 'keep-last' => 3 }`). */
function keepToPerl(keep: string | Record<string, number | boolean>): Record<string, number> {
  if (typeof keep !== 'string') return Object.fromEntries(Object.entries(keep).map(([key, value]) => [key, typeof value === 'boolean' ? (value ? 1 : 0) : value]));
  const parsed: Record<string, number> = {};
  for (const part of keep.split(',').filter(Boolean)) {
    const [key, value] = part.split('=');
    if (!key || value === undefined || !/^\d+$/.test(value)) throw new BpError('BP_INVALID_ARGUMENT', `prune option '${part}' is not <keep-option>=<count>`);
    parsed[key.trim()] = Number(value);
  }
  return parsed;
}

/**
 * A provider object: a Perl object built by the plugin's `new_backup_provider` in a runner of
 * its own, on the first call. If the runner died (timeout, crash), the next call builds a fresh
 * one, as the PVE bridge does.
 */
// A provider object nobody holds any more ends its runner (PVE drops its object after the entry point).
const abandoned = new FinalizationRegistry<{ runner?: PerlRunner }>((holder) => void holder.runner?.close());

function perlBackupProvider(spec: RunnerSpec, storeId: string, scfg: Record<string, unknown>, log: LogFunction, track: (runner: PerlRunner) => void, guard: BitmapGuard): BackupProvider {
  const holder: { runner?: PerlRunner } = {};
  let runner: PerlRunner | undefined;
  const call = async (name: string, args: unknown[], extra: RunnerCallOptions = {}): Promise<unknown> => {
    if (!runner?.alive) {
      runner = new PerlRunner(spec, `a provider of storage '${storeId}' (${spec.module})`);
      holder.runner = runner;
      track(runner);
      await runner.hello();
      await runner.call('job.open', { storeid: storeId, scfg }, { log });
    }
    return runner.call(`provider.${name}`, { args }, { log, ...extra });
  };
  const m = (name: string): string => `provider->${name}`;
  const withAbort = async <T>(signal: AbortSignal | undefined, run: () => Promise<T>): Promise<T> => {
    if (!signal) return run();
    signal.throwIfAborted();
    const onAbort = (): void => runner?.kill();
    signal.addEventListener('abort', onAbort, { once: true });
    try {
      return await run();
    } catch (error) {
      if (signal.aborted) throw new BpError('BP_ABORTED', `the Perl call was aborted: ${(error as Error).message}`, { cause: error });
      throw error;
    } finally {
      signal.removeEventListener('abort', onAbort);
    }
  };
  const provider: BackupProvider = {
    specificationVersion: CURRENT_SPECIFICATION_VERSION,
    providerName: async () => String(await call('provider_name', [])),
    jobInit: async (startTime) => void (await call('job_init', [startTime])),
    jobCleanup: async () => void (await call('job_cleanup', [])),
    backupInit: async (vmid, vmtype, startTime) => from.archiveNameOf(m('backup_init'), await call('backup_init', [vmid, vmtype, startTime])),
    backupCleanup: async (vmid, vmtype, success, info) => {
      let committed = false;
      try {
        const result = from.cleanupResultOf(m('backup_cleanup'), await call('backup_cleanup', [vmid, vmtype ?? null, success ? 1 : 0, info.error === undefined ? {} : { error: info.error }]));
        committed = success;
        return result;
      } finally {
        guard.cleanup(vmid, committed);
      }
    },
    backupGetMechanism: async (vmid, vmtype) => from.mechanismOf(m('backup_get_mechanism'), await call('backup_get_mechanism', [vmid, vmtype])),
    backupHandleLogFile: async (vmid, filename) => void (await call('backup_handle_log_file', [vmid, filename])),
    backupVmQueryIncremental: async (vmid, devices) =>
      guard.check(vmid, devices, from.incrementalOf(m('backup_vm_query_incremental'), await call('backup_vm_query_incremental', [vmid, deviceSizesToPerl(devices)])), log),
    backupVm: (vmid, guestConfig, volumes, info) =>
      withAbort(info.signal, async () => {
        const perl = vmVolumesToPerl(volumes);
        await call('backup_vm', [vmid, guestConfig, perl.volumes, vmInfoToPerl(info)], { requests: perl.requests });
        guard.stored(vmid, volumes);
      }),
    backupContainerPrepare: async (vmid, info) => void (await call('backup_container_prepare', [vmid, containerInfoToPerl(info)])),
    backupContainer: async (vmid, guestConfig, excludePatterns, info) => void (await call('backup_container', [vmid, guestConfig, [...excludePatterns], containerInfoToPerl(info)])),
    // pve-container passes the storage ID after the volume name (spec H4); so do these calls.
    restoreGetMechanism: async (volname) => from.restoreMechanismOf(m('restore_get_mechanism'), await call('restore_get_mechanism', [volname, storeId])),
    archiveGetGuestConfig: async (volname) => from.guestConfigOf(m('archive_get_guest_config'), await call('archive_get_guest_config', [volname, storeId])),
    archiveGetFirewallConfig: async (volname) => {
      const value = await call('archive_get_firewall_config', [volname, storeId]);
      return value === null || value === undefined || value === '' ? undefined : String(value);
    },
    restoreVmInit: async (volname) => from.restoreVmInitOf(m('restore_vm_init'), await call('restore_vm_init', [volname])),
    restoreVmCleanup: async (volname) => void (await call('restore_vm_cleanup', [volname])),
    restoreVmVolumeInit: async (volname, device) => from.qemuImgPathOf(m('restore_vm_volume_init'), await call('restore_vm_volume_init', [volname, device, {}])),
    restoreVmVolumeCleanup: async (volname, device) => void (await call('restore_vm_volume_cleanup', [volname, device, {}])),
    restoreContainerInit: async (volname) => from.containerInitOf(m('restore_container_init'), await call('restore_container_init', [volname, storeId, {}])),
    restoreContainerCleanup: async (volname) => void (await call('restore_container_cleanup', [volname, storeId, {}])),
  };
  abandoned.register(provider, holder);
  return provider;
}
