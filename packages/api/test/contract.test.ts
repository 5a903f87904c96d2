import { describe, expect, test } from 'vitest';
import { z } from 'zod';
import {
  assertSpecificationVersion,
  backupInitResultSchema,
  BpError,
  incrementalAnswersSchema,
  parseWithSchema,
  restoreContainerInitResultSchema,
  storageConfigSchema,
  toBpError,
} from '../src/index.js';
import { createMemoryPlugin } from './memory-storage.js';

describe('BpError', () => {
  test('carries a stable code and is recognised across copies by its brand', () => {
    const error = new BpError('BP_NOT_FOUND', 'gone', { details: { path: '/x' } });
    expect(BpError.isInstance(error)).toBe(true);
    expect(BpError.hasCode(error, 'BP_NOT_FOUND')).toBe(true);
    expect(BpError.hasCode(error, 'BP_PROTECTED')).toBe(false);
    expect(BpError.isInstance(new Error('plain'))).toBe(false);
    // A structurally identical object from another copy of the package carries the same global symbol.
    const foreign = Object.assign(Object.create(Error.prototype), { [Symbol.for('@bp/api.BpError')]: true });
    expect(BpError.isInstance(foreign)).toBe(true);
    expect(JSON.parse(JSON.stringify(error))).toEqual({ code: 'BP_NOT_FOUND', message: 'gone', details: { path: '/x' } });
  });

  test('toBpError keeps BpErrors and wraps anything else with a cause', () => {
    const original = new BpError('BP_LOCKED', 'busy');
    expect(toBpError(original, 'BP_BACKUP_FAILED', 'x')).toBe(original);
    const wrapped = toBpError(new Error('disk full'), 'BP_BACKUP_FAILED', 'writing drive-scsi0');
    expect(wrapped.code).toBe('BP_BACKUP_FAILED');
    expect(wrapped.message).toBe('writing drive-scsi0: disk full');
    expect(wrapped.cause).toBeInstanceOf(Error);
  });
});

describe('parseWithSchema', () => {
  test('rethrows zod failures as BP_INVALID_CONFIG naming the failing path', () => {
    const schema = z.object({ outer: z.object({ count: z.number() }) });
    let caught: unknown;
    try {
      parseWithSchema(schema, { outer: { count: 'three' } }, 'settings');
    } catch (error) {
      caught = error;
    }
    expect(BpError.hasCode(caught, 'BP_INVALID_CONFIG')).toBe(true);
    expect((caught as BpError).message).toMatch(/^invalid settings: .*\(location: outer\.count\)$/);
  });

  test('the storage config applies the example defaults and rejects unknown keys', () => {
    expect(parseWithSchema(storageConfigSchema, { path: '/srv/backup' }, 'storage config')).toEqual({
      path: '/srv/backup',
      'lxc-backup-mode': 'tar',
      'vm-backup-mechanism': 'file-handle',
      'vm-backup-mode': 'full',
    });
    expect(() => parseWithSchema(storageConfigSchema, { path: 'relative' }, 'storage config')).toThrow(/location: path/);
    expect(() => parseWithSchema(storageConfigSchema, { path: '/x', 'vm-backup-mode': 'differential' }, 'storage config')).toThrow(
      /location: vm-backup-mode/,
    );
    expect(() => parseWithSchema(storageConfigSchema, { path: '/x', bogus: 1 }, 'storage config')).toThrow(BpError);
  });
});

describe('provider result schemas', () => {
  test('accept the documented shapes and reject others', () => {
    expect(backupInitResultSchema.safeParse({ archiveName: '100/qemu-1' }).success).toBe(true);
    expect(backupInitResultSchema.safeParse({ archiveName: '' }).success).toBe(false);
    expect(incrementalAnswersSchema.safeParse({ 'drive-scsi0': 'use', 'drive-efidisk0': 'none' }).success).toBe(true);
    expect(incrementalAnswersSchema.safeParse({ 'drive-scsi0': 'reuse' }).success).toBe(false);
    expect(incrementalAnswersSchema.safeParse(undefined).success).toBe(true);
    expect(restoreContainerInitResultSchema.safeParse({ tarPath: '/a.tar' }).success).toBe(true);
    expect(restoreContainerInitResultSchema.safeParse({ tarPath: '/a.tar', archiveDirectory: '/d' }).success).toBe(false);
  });
});

describe('specification version', () => {
  test('known versions pass, unknown ones fail with a code', () => {
    expect(() => assertSpecificationVersion({ specificationVersion: 'v1' }, 'provider')).not.toThrow();
    for (const version of ['v0', 'v2', undefined, 1]) {
      expect(() => assertSpecificationVersion({ specificationVersion: version }, 'provider')).toThrow(
        expect.objectContaining({ code: 'BP_UNSUPPORTED_SPEC_VERSION' }),
      );
    }
  });
});

describe('a minimal in-memory provider implements the contract', () => {
  test('backup lifecycle, listing, attributes and delete', async () => {
    const plugin = createMemoryPlugin();
    const storage = plugin.open('mem', { name: 'test' });
    const lines: string[] = [];
    const provider = storage.newBackupProvider((level, message) => lines.push(`${level}: ${message}`));
    assertSpecificationVersion(provider, 'memory provider');

    await provider.jobInit(1000);
    const { archiveName } = backupInitResultSchema.parse(await provider.backupInit(100, 'qemu', 1001));
    expect(await storage.listVolumes()).toEqual([]); // not listed before completion
    await provider.backupVm(100, 'memory: 128\n', { 'drive-scsi0': { mechanism: 'nbd', size: 4096, bitmapMode: 'none', nbdPath: '/nonexistent', exportName: 'drive-scsi0' } }, {});
    const cleanup = await provider.backupCleanup(100, 'qemu', true, {});
    await provider.jobCleanup();
    expect(cleanup.stats?.archiveSize).toBe(4096);

    const volid = `mem:backup/${archiveName}`;
    expect(await storage.listVolumes({ vmid: 100 })).toEqual([
      { volid, vmid: 100, format: 'memory', ctime: 1001, size: 4096, subtype: 'qemu', content: 'backup', protected: false },
    ]);
    expect(storage.parseVolname(`backup/${archiveName}`)).toEqual({ vtype: 'backup', name: archiveName, vmid: 100 });

    const restore = storage.newBackupProvider(() => {});
    expect(await restore.archiveGetGuestConfig(`backup/${archiveName}`)).toBe('memory: 128\n');
    expect(await restore.restoreVmInit(`backup/${archiveName}`)).toEqual({ 'drive-scsi0': { size: 4096 } });

    await storage.updateVolumeAttribute(`backup/${archiveName}`, 'protected', true);
    await expect(storage.freeImage(`backup/${archiveName}`)).rejects.toMatchObject({ code: 'BP_PROTECTED' });
    await storage.updateVolumeAttribute(`backup/${archiveName}`, 'protected', false);
    await storage.freeImage(`backup/${archiveName}`);
    expect(await storage.listVolumes()).toEqual([]);
    expect(lines).toContain('info: job start');
  });

  test('a failed backup is never listed', async () => {
    const storage = createMemoryPlugin().open('mem', { name: 'test' });
    const provider = storage.newBackupProvider(() => {});
    await provider.backupInit(101, 'qemu', 5);
    await provider.backupCleanup(101, 'qemu', false, { error: 'copy failed\n' });
    // cleanup without init and twice must be tolerated
    await provider.backupCleanup(102, undefined, false, { error: 'guest locked' });
    await provider.backupCleanup(101, 'qemu', false, { error: 'again' });
    expect(await storage.listVolumes()).toEqual([]);
  });
});
