import { randomBytes } from 'node:crypto';
import { mkdtemp, open, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { z } from 'zod';
import {
  assertSpecificationVersion,
  type BackupStorage,
  type BitmapMode,
  type DiskRegion,
  type FileHandleVmVolume,
  backupInitResultSchema,
  BpError,
  incrementalAnswersSchema,
  parseWithSchema,
  restoreContainerInitResultSchema,
  storageConfigSchema,
  toBpError,
} from '../src/index.js';
import { createMemoryPlugin, memoryConfigSchema } from '../src/testing/index.js';

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

describe('the in-memory provider of @bp/api/testing implements the contract', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'bp-api-memory-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  /** A file-handle volume over a file holding `data`; only `regions` are handed out, discards recorded. */
  async function fileVolume(data: Buffer, bitmapMode: BitmapMode, regions: DiskRegion[], discarded: DiskRegion[]): Promise<FileHandleVmVolume & { close(): Promise<void> }> {
    const filePath = join(dir, `disk-${randomBytes(4).toString('hex')}.raw`);
    await writeFile(filePath, data);
    const fileHandle = await open(filePath, 'r+');
    return {
      mechanism: 'file-handle',
      size: data.length,
      bitmapMode,
      fileHandle,
      filePath,
      async *dirtyRegions() {
        yield* regions;
      },
      discard: async (offset, length) => void discarded.push({ offset, length }),
      close: () => fileHandle.close(),
    };
  }

  async function restored(storage: BackupStorage, volname: string): Promise<Buffer> {
    const provider = storage.newBackupProvider(() => {});
    const { qemuImgPath } = await provider.restoreVmVolumeInit(volname, 'drive-scsi0', {});
    const bytes = await readFile(qemuImgPath);
    await provider.restoreVmVolumeCleanup(volname, 'drive-scsi0', {});
    await expect(readFile(qemuImgPath)).rejects.toMatchObject({ code: 'ENOENT' });
    return bytes;
  }

  test('full and incremental backups restore byte for byte; listing, attributes and delete', async () => {
    const storage = createMemoryPlugin().open('mem', memoryConfigSchema.parse({ name: 'test' }));
    const lines: string[] = [];
    const provider = storage.newBackupProvider((level, message) => lines.push(`${level}: ${message}`));
    assertSpecificationVersion(provider, 'memory provider');
    // An odd size (not a multiple of the 1 MiB chunk) with random content.
    const size = 1024 * 1024 + 4097;
    const disk = randomBytes(size);

    await provider.jobInit(1000);
    const { archiveName } = backupInitResultSchema.parse(await provider.backupInit(100, 'qemu', 1001));
    expect(await provider.backupGetMechanism(100, 'qemu')).toBe('file-handle');
    expect(await provider.backupVmQueryIncremental(100, { 'drive-scsi0': { size } })).toEqual({ 'drive-scsi0': 'new' });
    const discarded: DiskRegion[] = [];
    const full = await fileVolume(disk, 'new', [{ offset: 0, length: size }], discarded);
    await provider.backupVm(100, 'memory: 128\n', { 'drive-scsi0': full }, {});
    await full.close();
    expect(await storage.listVolumes()).toEqual([]); // not listed before backupCleanup(true)
    expect((await provider.backupCleanup(100, 'qemu', true, {})).stats?.archiveSize).toBe(size);
    expect(discarded.reduce((sum, region) => sum + region.length, 0)).toBe(size);

    const volname = `backup/${archiveName}`;
    expect(await storage.listVolumes({ vmid: 100 })).toEqual([
      { volid: `mem:${volname}`, vmid: 100, format: 'memory', ctime: 1001, size, subtype: 'qemu', content: 'backup', protected: false },
    ]);
    expect(storage.parseVolname(volname)).toEqual({ vtype: 'backup', name: archiveName, vmid: 100 });
    expect((await restored(storage, volname)).equals(disk)).toBe(true);

    // Incremental: only the dirty region is read; the rest comes from the previous backup.
    const changed = Buffer.from(disk);
    randomBytes(4000).copy(changed, 1024 * 1024 - 100);
    const second = storage.newBackupProvider(() => {});
    const { archiveName: next } = await second.backupInit(100, 'qemu', 1002);
    expect(await second.backupVmQueryIncremental(100, { 'drive-scsi0': { size } })).toEqual({ 'drive-scsi0': 'use' });
    // Everything outside the dirty region reads as garbage: it must not reach the backup.
    const source = Buffer.alloc(size, 0xee);
    changed.copy(source, 1024 * 1024 - 100, 1024 * 1024 - 100, 1024 * 1024 + 3900);
    const incremental = await fileVolume(source, 'reuse', [{ offset: 1024 * 1024 - 100, length: 4000 }], []);
    await second.backupVm(100, 'memory: 128\n', { 'drive-scsi0': incremental }, {});
    await incremental.close();
    await second.backupCleanup(100, 'qemu', true, {});
    expect((await restored(storage, `backup/${next}`)).equals(changed)).toBe(true);
    expect((await restored(storage, volname)).equals(disk)).toBe(true);

    const restore = storage.newBackupProvider(() => {});
    expect(await restore.archiveGetGuestConfig(volname)).toBe('memory: 128\n');
    expect(await restore.restoreVmInit(volname)).toEqual({ 'drive-scsi0': { size } });
    await storage.updateVolumeAttribute(volname, 'protected', true);
    await expect(storage.freeImage(volname)).rejects.toMatchObject({ code: 'BP_PROTECTED' });
    await storage.updateVolumeAttribute(volname, 'protected', false);
    await storage.freeImage(volname);
    expect((await storage.listVolumes()).map((volume) => volume.volid)).toEqual([`mem:backup/${next}`]);
    expect(lines.some((line) => line.startsWith('info: drive-scsi0: stored everything'))).toBe(true);
    // Containers are not declared: the helper refuses them.
    await expect(restore.backupContainer(200, '', [], {} as never)).rejects.toMatchObject({ code: 'BP_NOT_SUPPORTED' });
  });

  test('a failed backup is never listed, and a failure after backupVm makes the next backup full (H1)', async () => {
    const storage = createMemoryPlugin().open('mem', memoryConfigSchema.parse({}));
    const provider = storage.newBackupProvider(() => {});
    await provider.backupInit(101, 'qemu', 5);
    await provider.backupCleanup(101, 'qemu', false, { error: 'copy failed\n' });
    // cleanup without init and twice must be tolerated
    await provider.backupCleanup(102, undefined, false, { error: 'guest locked' });
    await provider.backupCleanup(101, 'qemu', false, { error: 'again' });
    expect(await storage.listVolumes()).toEqual([]);

    const disk = randomBytes(8192);
    for (const [time, fail] of [[10, false], [11, true]] as const) {
      await provider.backupInit(101, 'qemu', time);
      await provider.backupVmQueryIncremental(101, { 'drive-scsi0': { size: disk.length } });
      const volume = await fileVolume(disk, 'new', [{ offset: 0, length: disk.length }], []);
      await provider.backupVm(101, '', { 'drive-scsi0': volume }, {});
      await volume.close();
      await provider.backupCleanup(101, 'qemu', !fail, fail ? { error: 'prune failed' } : {});
    }
    expect(await storage.listVolumes()).toHaveLength(1);
    await provider.backupInit(101, 'qemu', 12);
    expect(await provider.backupVmQueryIncremental(101, { 'drive-scsi0': { size: disk.length } })).toEqual({ 'drive-scsi0': 'new' });
  });
});
