// Which tests the kit registers, from the declaration alone (nothing runs here).
import { describe, expect, test } from 'vitest';
import type { StorageSupports } from '@bp/api';
import { testBackupProvider, type KitTestContext, type ProviderFactory } from '../src/index.js';

const unusedFactory: ProviderFactory = async () => {
  throw new Error('registration must not call the factory');
};

function registeredNames(supports?: StorageSupports): string[] {
  const names: string[] = [];
  testBackupProvider({ test: (name) => void names.push(name), factory: unusedFactory, ...(supports ? { supports } : {}) });
  return names;
}

const vmOnlyNbd: StorageSupports = {
  vmMechanisms: ['nbd'],
  incremental: false,
  containerFormats: [],
  notes: false,
  protected: false,
  prune: false,
  delete: false,
  verify: false,
};

describe('registration', () => {
  test('with a static declaration only declared scenarios are registered', () => {
    const names = registeredNames(vmOnlyNbd);
    expect(names.some((name) => name.includes('[file-handle]'))).toBe(false);
    expect(names.some((name) => name.startsWith('container: '))).toBe(false);
    expect(names.some((name) => name.includes('incremental generations'))).toBe(false);
    expect(names.some((name) => name.includes('pruneBackups'))).toBe(false);
    expect(names).toContain('vm: full backup of odd-sized disks restores byte-identical, with guest and firewall config verbatim [nbd]');
    expect(names).toContain('storage: operations the declaration leaves out throw BP_NOT_SUPPORTED');
  });

  test('without a declaration every variant is registered and decided at run time', () => {
    const names = registeredNames();
    expect(names).toContain('vm: full backup of odd-sized disks restores byte-identical, with guest and firewall config verbatim [file-handle]');
    expect(names).toContain('container: container backup runs as the container\'s mapped root uid [squashfs]');
  });

  test('a scenario the declaration rules out is skipped with the reason', async () => {
    const bodies = new Map<string, (context: KitTestContext) => Promise<void>>();
    const factory: ProviderFactory = async () => ({
      storage: { plugin: { supports: vmOnlyNbd } } as never,
      cleanup: async () => {},
    });
    testBackupProvider({ test: (name, body) => void bodies.set(name, body), factory });
    const skipped: string[] = [];
    await bodies.get('vm: full backup of odd-sized disks restores byte-identical, with guest and firewall config verbatim [file-handle]')!({ expect, skip: (note) => void skipped.push(note ?? '') });
    expect(skipped).toEqual(["the provider does not declare VM mechanism 'file-handle'"]);
  });
});
