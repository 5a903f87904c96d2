import type { z } from 'zod';
import type { BackupStorage, BackupStoragePlugin } from '../storage/backup-storage.js';
import type { StorageSupports } from '../storage/supports.js';
import { CURRENT_SPECIFICATION_VERSION, type SpecificationVersion } from '../provider/specification-version.js';
import { bindMethods } from './bind-methods.js';
import { assertConsistent, checkMethods, notSupported, refuse } from './not-supported.js';

/** Storage methods whose presence a `supports` flag decides. */
type OptionalStorageMethods = 'activateStorage' | 'pruneBackups' | 'freeImage' | 'getVolumeAttribute' | 'updateVolumeAttribute' | 'verify';

/**
 * What `open` of a {@link defineStoragePlugin} definition returns: the listing side of a storage,
 * plus the operations its `supports` declares (`pruneBackups` for `prune`, `freeImage` for
 * `delete`, `getVolumeAttribute`/`updateVolumeAttribute` for `notes` or `protected`, `verify` for
 * `verify`). `activateStorage` defaults to doing nothing.
 */
export type StorageDefinition<Config> = Omit<BackupStorage<Config>, 'storeId' | 'config' | 'plugin' | OptionalStorageMethods> &
  Partial<Pick<BackupStorage<Config>, OptionalStorageMethods>>;

/** What {@link defineStoragePlugin} needs; `specificationVersion` defaults to the current one. */
export interface StoragePluginDefinition<Config> {
  specificationVersion?: SpecificationVersion;
  /** Storage type as in storage.cfg, e.g. `my-backup`. */
  type: string;
  /** Validates the storage config; `storageConfigSchema` fits directory-like storages. */
  configSchema: z.ZodType<Config, unknown>;
  /** What the plugin and its provider can do; the helpers enforce it. */
  supports: StorageSupports;
  /** Where a child process re-imports the plugin from (container backups run in one). */
  moduleRef: { module: string; exportName: string };
  /** Binds the plugin to a storage ID and a validated config. */
  open(storeId: string, config: Config): StorageDefinition<Config>;
}

function storageProblems(supports: StorageSupports, storage: Partial<Pick<BackupStorage, OptionalStorageMethods>>): string[] {
  const attributes = supports.notes || supports.protected;
  return [
    ...checkMethods(supports.prune, 'prune', { pruneBackups: storage.pruneBackups }),
    ...checkMethods(supports.delete, 'delete', { freeImage: storage.freeImage }),
    ...checkMethods(attributes, 'notes or supports.protected', { getVolumeAttribute: storage.getVolumeAttribute, updateVolumeAttribute: storage.updateVolumeAttribute }),
    ...checkMethods(supports.verify, 'verify', { verify: storage.verify }),
  ];
}

/**
 * Builds a {@link BackupStoragePlugin} whose storages are consistent with its `supports`
 * declaration: every storage operation the declaration leaves out throws `BP_NOT_SUPPORTED`
 * (reading an undeclared attribute gives `undefined`, as PVE's `get_volume_attribute`), and an
 * attribute the declaration leaves out (`notes` or `protected`) is refused even when the other
 * one is implemented. Provider objects come from the storage's `newBackupProvider`; build them
 * with {@link defineProvider} and the same `supports`.
 *
 * Throws `BP_INVALID_ARGUMENT` from `open` when the storage and the declaration disagree (a
 * declared operation without its method, or a method for an undeclared one).
 */
export function defineStoragePlugin<Config>(definition: StoragePluginDefinition<Config>): BackupStoragePlugin<Config> {
  const { supports } = definition;
  const plugin: BackupStoragePlugin<Config> = {
    specificationVersion: definition.specificationVersion ?? CURRENT_SPECIFICATION_VERSION,
    type: definition.type,
    configSchema: definition.configSchema,
    supports,
    moduleRef: definition.moduleRef,
    open(storeId, config) {
      // Bound copies, not the object: `open` may return a class instance with prototype methods.
      const storage = bindMethods(definition.open(storeId, config));
      assertConsistent(`storage plugin ${definition.type}`, storageProblems(supports, storage));
      const why = (flag: string): string => `storage plugin ${definition.type} does not declare supports.${flag}`;
      const declaredAttribute = (attribute: string): boolean => (attribute === 'notes' ? supports.notes : supports.protected);
      const { getVolumeAttribute, updateVolumeAttribute } = storage;
      return {
        storeId,
        config,
        plugin,
        parseVolname: storage.parseVolname,
        path: storage.path,
        listVolumes: storage.listVolumes,
        volumeSizeInfo: storage.volumeSizeInfo,
        status: storage.status,
        newBackupProvider: storage.newBackupProvider,
        activateStorage: storage.activateStorage ?? (async () => {}),
        pruneBackups: storage.pruneBackups ?? refuse('pruneBackups', why('prune')),
        freeImage: storage.freeImage ?? refuse('freeImage', why('delete')),
        getVolumeAttribute: async (volname, attribute) =>
          declaredAttribute(attribute) && getVolumeAttribute ? getVolumeAttribute(volname, attribute) : undefined,
        updateVolumeAttribute: async (volname, attribute, value) => {
          if (!declaredAttribute(attribute) || !updateVolumeAttribute) throw notSupported(`updateVolumeAttribute(${attribute})`, why(attribute));
          return updateVolumeAttribute(volname, attribute, value);
        },
        verify: storage.verify ?? refuse('verify', why('verify')),
      };
    },
  };
  return plugin;
}
