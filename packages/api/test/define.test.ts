import { describe, expect, test } from 'vitest';
import {
  BpError,
  CURRENT_SPECIFICATION_VERSION,
  defineProvider,
  defineStoragePlugin,
  type BackupProvider,
  type ProviderDefinition,
  type StorageDefinition,
  type StorageSupports,
} from '../src/index.js';
import { z } from 'zod';

const NOTHING: StorageSupports = { vmMechanisms: [], incremental: false, containerFormats: [], notes: false, protected: false, prune: false, delete: false, verify: false };
const VM_ONLY: StorageSupports = { ...NOTHING, vmMechanisms: ['nbd'] };

const base: ProviderDefinition = {
  name: 'test',
  backupInit: async (vmid, vmtype, time) => ({ archiveName: `${vmid}/${vmtype}-${time}` }),
  backupCleanup: async () => ({}),
  restoreGetMechanism: async () => ({ mechanism: 'qemu-img', vmtype: 'qemu' }),
  archiveGetGuestConfig: async () => 'memory: 512\n',
};
const vmMethods: Partial<ProviderDefinition> = {
  backupVm: async () => {},
  restoreVmInit: async () => ({ 'drive-scsi0': { size: 4096 } }),
  restoreVmVolumeInit: async () => ({ qemuImgPath: '/dev/null' }),
};

async function codeOf(promise: Promise<unknown>): Promise<string | undefined> {
  try {
    await promise;
    return undefined;
  } catch (error) {
    return BpError.isInstance(error) ? error.code : String(error);
  }
}

describe('defineProvider', () => {
  test('fills what a VM-only provider leaves out; container operations throw BP_NOT_SUPPORTED', async () => {
    const provider: BackupProvider = defineProvider(VM_ONLY, { ...base, ...vmMethods });
    expect(provider.specificationVersion).toBe(CURRENT_SPECIFICATION_VERSION);
    expect(await provider.providerName()).toBe('test');
    expect(await provider.backupGetMechanism(100, 'qemu')).toBe('nbd');
    expect(await provider.backupVmQueryIncremental(100, { 'drive-scsi0': { size: 1 } })).toBeUndefined();
    expect(await provider.archiveGetFirewallConfig('backup/100/qemu-1')).toBeUndefined();
    await expect(provider.jobInit(1)).resolves.toBeUndefined();
    await expect(provider.backupHandleLogFile(100, '/nonexistent/ü.log')).resolves.toBeUndefined();
    for (const call of [
      provider.backupGetMechanism(200, 'lxc'),
      provider.backupContainerPrepare(200, { sources: [], backupUserId: 0, backupGroupId: 0 } as never),
      provider.backupContainer(200, '', [], {} as never),
      provider.restoreContainerInit('backup/200/lxc-1', {}),
    ]) {
      expect(await codeOf(call)).toBe('BP_NOT_SUPPORTED');
    }
  });

  test('a container-only provider refuses VM operations', async () => {
    const provider = defineProvider({ ...NOTHING, containerFormats: ['tar'] }, { ...base, backupContainer: async () => {}, restoreContainerInit: async () => ({ tarPath: '/x.tar' }) });
    expect(await provider.backupGetMechanism(200, 'lxc')).toBe('directory');
    await expect(provider.backupContainerPrepare(200, {} as never)).resolves.toBeUndefined();
    for (const call of [provider.backupGetMechanism(100, 'qemu'), provider.backupVm(100, '', {}, {}), provider.restoreVmInit('backup/100/qemu-1'), provider.restoreVmVolumeInit('backup/100/qemu-1', 'drive-scsi0', {})]) {
      expect(await codeOf(call)).toBe('BP_NOT_SUPPORTED');
    }
  });

  test('refuses a definition that disagrees with the declaration, naming every mismatch', () => {
    expect(() => defineProvider(VM_ONLY, base)).toThrow(/supports\.vmMechanisms is declared but backupVm, restoreVmInit, restoreVmVolumeInit are missing/);
    expect(() => defineProvider(NOTHING, { ...base, ...vmMethods })).toThrow(/backupVm, restoreVmInit, restoreVmVolumeInit are given but supports\.vmMechanisms is not declared/);
    expect(() => defineProvider({ ...VM_ONLY, incremental: true }, { ...base, ...vmMethods })).toThrow(/supports\.incremental is declared but backupVmQueryIncremental is missing/);
    expect(() => defineProvider(VM_ONLY, { ...base, ...vmMethods, backupVmQueryIncremental: async () => undefined })).toThrow(/supports\.incremental is not declared/);
    expect(() => defineProvider({ ...VM_ONLY, vmMechanisms: ['nbd', 'file-handle'] }, { ...base, ...vmMethods })).toThrow(/backupGetMechanism must say/);
    expect(() => defineProvider(NOTHING, { ...base, backupContainerPrepare: async () => {} })).toThrow(BpError);
    try {
      defineProvider(VM_ONLY, base);
    } catch (error) {
      expect(BpError.hasCode(error, 'BP_INVALID_ARGUMENT')).toBe(true);
    }
  });

  test('accepts a class instance: methods keep their `this`', async () => {
    class Provider {
      readonly name = 'class';
      private readonly config = 'from this\n';
      async backupInit(vmid: number): Promise<{ archiveName: string }> {
        return { archiveName: `${vmid}/qemu-1` };
      }
      async backupCleanup(): Promise<Record<string, never>> {
        return {};
      }
      async restoreGetMechanism(): Promise<{ mechanism: 'qemu-img'; vmtype: 'qemu' }> {
        return { mechanism: 'qemu-img', vmtype: 'qemu' };
      }
      async archiveGetGuestConfig(): Promise<string> {
        return this.config;
      }
    }
    const provider = defineProvider(NOTHING, new Provider());
    expect(await provider.archiveGetGuestConfig('backup/100/qemu-1')).toBe('from this\n');
    expect(await provider.providerName()).toBe('class');
  });
});

describe('defineStoragePlugin', () => {
  const listing: StorageDefinition<{ path: string }> = {
    parseVolname: () => ({ vtype: 'backup', name: '100/qemu-1', vmid: 100 }),
    path: async () => ({ path: '/x', vmid: 100, vtype: 'backup' }),
    listVolumes: async () => [],
    volumeSizeInfo: async () => ({ size: 0, format: 'raw', used: 0, ctime: 1 }),
    status: async () => ({ total: 1, used: 0, available: 1, active: true }),
    newBackupProvider: () => defineProvider(NOTHING, base),
  };
  const plugin = (supports: StorageSupports, storage: StorageDefinition<{ path: string }>) =>
    defineStoragePlugin({ type: 'test', configSchema: z.object({ path: z.string() }), supports, moduleRef: { module: 'test', exportName: 'plugin' }, open: () => storage });

  test('operations the declaration leaves out throw BP_NOT_SUPPORTED; undeclared attributes read as undefined', async () => {
    const storage = plugin(NOTHING, listing).open('store', { path: '/x' });
    expect(storage.storeId).toBe('store');
    expect(storage.plugin.specificationVersion).toBe(CURRENT_SPECIFICATION_VERSION);
    await expect(storage.activateStorage()).resolves.toBeUndefined();
    for (const call of [
      storage.pruneBackups('keep-last=1'),
      storage.freeImage('backup/100/qemu-1'),
      storage.updateVolumeAttribute('backup/100/qemu-1', 'notes', 'x'),
      storage.updateVolumeAttribute('backup/100/qemu-1', 'protected', true),
      storage.verify?.() ?? Promise.resolve(),
    ]) {
      expect(await codeOf(call)).toBe('BP_NOT_SUPPORTED');
    }
    expect(await storage.getVolumeAttribute('backup/100/qemu-1', 'notes')).toBeUndefined();
  });

  test('an attribute the declaration leaves out is refused even when the methods exist for the other one', async () => {
    const notes = new Map<string, string>();
    const storage = plugin({ ...NOTHING, notes: true }, {
      ...listing,
      getVolumeAttribute: async (volname) => notes.get(volname),
      updateVolumeAttribute: async (volname, _attribute, value) => void notes.set(volname, String(value)),
    }).open('store', { path: '/x' });
    await storage.updateVolumeAttribute('backup/100/qemu-1', 'notes', 'before upgrade ✓');
    expect(await storage.getVolumeAttribute('backup/100/qemu-1', 'notes')).toBe('before upgrade ✓');
    expect(await codeOf(storage.updateVolumeAttribute('backup/100/qemu-1', 'protected', true))).toBe('BP_NOT_SUPPORTED');
    expect(await storage.getVolumeAttribute('backup/100/qemu-1', 'protected')).toBeUndefined();
  });

  test('open refuses a storage that disagrees with the declaration', () => {
    expect(() => plugin({ ...NOTHING, prune: true, delete: true }, listing).open('store', { path: '/x' })).toThrow(
      /supports\.prune is declared but pruneBackups is missing; supports\.delete is declared but freeImage is missing/,
    );
    expect(() => plugin(NOTHING, { ...listing, freeImage: async () => {} }).open('store', { path: '/x' })).toThrow(/freeImage is given but supports\.delete is not declared/);
  });
});
