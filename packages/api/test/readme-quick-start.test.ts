import { randomBytes } from 'node:crypto';
import { mkdtemp, open, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { BpError, type FileHandleVmVolume } from '../src/index.js';
import { rawDirPlugin } from './readme-quick-start.js';

const packageDir = new URL('..', import.meta.url);

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'bp-api-quick-start-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('the README quick start', () => {
  test('is test/readme-quick-start.ts verbatim (which tsc type-checks with the package)', async () => {
    const readme = await readFile(new URL('README.md', packageDir), 'utf8');
    const section = readme.slice(readme.indexOf('## Quick start'));
    const block = /```ts\n([\s\S]*?)```/.exec(section)?.[1];
    expect(block).toBe(await readFile(new URL('test/readme-quick-start.ts', packageDir), 'utf8'));
  });

  test('backs up a VM disk, lists it only when complete, restores it byte for byte and refuses what it does not declare', async () => {
    const path = join(dir, 'store ü');
    const storage = rawDirPlugin.open('raw', rawDirPlugin.configSchema.parse({ path }));
    const size = 3 * 65536 + 511;
    const disk = Buffer.alloc(size);
    randomBytes(70000).copy(disk, 1000);
    randomBytes(511).copy(disk, size - 511);
    const source = join(dir, 'disk.raw');
    await writeFile(source, disk);
    const fileHandle = await open(source, 'r');
    const volume: FileHandleVmVolume = {
      mechanism: 'file-handle',
      size,
      bitmapMode: 'none',
      fileHandle,
      filePath: source,
      async *dirtyRegions() {
        yield { offset: 0, length: size };
      },
      discard: async () => {},
    };

    const provider = storage.newBackupProvider(() => {});
    expect(await provider.backupGetMechanism(100, 'qemu')).toBe('file-handle');
    const { archiveName } = await provider.backupInit(100, 'qemu', 1_790_000_000);
    await provider.backupVm(100, 'memory: 512\n', { 'drive-scsi0': volume }, {});
    expect(await storage.listVolumes()).toEqual([]);
    await provider.backupCleanup(100, 'qemu', true, {});
    await fileHandle.close();

    const volname = `backup/${archiveName}`;
    expect(await storage.listVolumes()).toEqual([{ volid: `raw:${volname}`, vmid: 100, format: 'raw', ctime: 1_790_000_000, size, subtype: 'qemu', content: 'backup' }]);
    const restore = storage.newBackupProvider(() => {});
    expect(await restore.restoreVmInit(volname)).toEqual({ 'drive-scsi0': { size } });
    const { qemuImgPath } = await restore.restoreVmVolumeInit(volname, 'drive-scsi0', {});
    expect((await readFile(qemuImgPath)).equals(disk)).toBe(true);
    expect(await restore.archiveGetGuestConfig(volname)).toBe('memory: 512\n');

    for (const call of [storage.pruneBackups('keep-last=1'), storage.updateVolumeAttribute(volname, 'notes', 'x'), restore.backupContainer(200, '', [], {} as never)]) {
      await expect(call).rejects.toSatisfy((error: unknown) => BpError.hasCode(error, 'BP_NOT_SUPPORTED'));
    }
    const failed = storage.newBackupProvider(() => {});
    await failed.backupInit(100, 'qemu', 1_790_000_100);
    await failed.backupCleanup(100, 'qemu', false, { error: 'copy failed' });
    expect(await storage.listVolumes()).toHaveLength(1);
    await storage.freeImage(volname);
    expect(await storage.listVolumes()).toEqual([]);
  });
});
