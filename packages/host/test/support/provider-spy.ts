// Wraps a storage so that every provider instance is numbered and every provider call recorded.
import type { BackupProvider, BackupStorage } from '@bp/api';

export function spyOnProviders<C>(storage: BackupStorage<C>, overrides: Partial<BackupProvider>, calls: string[]): BackupStorage<C> {
  return {
    ...storage,
    newBackupProvider: (log) => {
      const instance = calls.filter((c) => c === 'new').length + 1;
      calls.push('new');
      const inner = { ...storage.newBackupProvider(log), ...overrides };
      return new Proxy(inner, {
        get(target, key, receiver) {
          const value = Reflect.get(target, key, receiver) as unknown;
          if (typeof value !== 'function') return value;
          return (...args: unknown[]) => {
            const device = typeof args[1] === 'string' && String(key).includes('Volume') ? `(${args[1]})` : '';
            calls.push(`#${instance}.${String(key)}${device}`);
            return (value as (...a: unknown[]) => unknown).apply(target, args);
          };
        },
      });
    },
  };
}
