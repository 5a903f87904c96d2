// Decorators that break one behaviour of a working provider, to show the kit catches each.
import type { BackupProvider, BackupStorage, BackupStoragePlugin } from '@bp/api';

/** Replacement methods for a storage, for every provider it creates, and for its plugin's fields. */
export interface Breakage {
  storage?: (real: BackupStorage) => Partial<BackupStorage>;
  provider?: (real: BackupProvider) => Partial<BackupProvider>;
  plugin?: (real: BackupStoragePlugin) => Partial<BackupStoragePlugin>;
}

function overlay<T extends object>(real: T, overrides: Partial<T>): T {
  return new Proxy(real, {
    get(target, property, receiver) {
      if (Object.hasOwn(overrides, property)) return overrides[property as keyof T];
      const value: unknown = Reflect.get(target, property, receiver);
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
    },
  });
}

/**
 * Wraps `storage` so that it and its providers behave as `breakage` says; `plugin` becomes the
 * storage's plugin (with the breakage's field overrides), so reopening the storage or re-importing
 * the plugin from `moduleRef` (the container child) gets the broken variant again.
 */
export function breakStorage(storage: BackupStorage, breakage: Breakage, plugin: BackupStoragePlugin = storage.plugin): BackupStorage {
  const brokenPlugin = { ...plugin, ...breakage.plugin?.(plugin) };
  const wrapped: BackupStorage = overlay(storage, {
    ...breakage.storage?.(storage),
    plugin: brokenPlugin,
    newBackupProvider: (log) => {
      const real = storage.newBackupProvider(log);
      return breakage.provider ? overlay(real, breakage.provider(real)) : real;
    },
  });
  return wrapped;
}
