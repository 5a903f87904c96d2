// Decorators that break one behaviour of a working provider, to show the kit catches each.
import type { BackupProvider, BackupStorage } from '@bp/api';

/** Replacement methods for a storage and for every provider it creates. */
export interface Breakage {
  storage?: (real: BackupStorage) => Partial<BackupStorage>;
  provider?: (real: BackupProvider) => Partial<BackupProvider>;
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

/** Wraps `storage` so that it and its providers behave as `breakage` says. */
export function breakStorage(storage: BackupStorage, breakage: Breakage): BackupStorage {
  const wrapped: BackupStorage = overlay(storage, {
    ...breakage.storage?.(storage),
    newBackupProvider: (log) => {
      const real = storage.newBackupProvider(log);
      return breakage.provider ? overlay(real, breakage.provider(real)) : real;
    },
  });
  return wrapped;
}
