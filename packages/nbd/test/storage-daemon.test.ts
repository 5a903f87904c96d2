import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, expect, test } from 'vitest';
import { copyRegions, createFileTarget, dirtyRegions, NbdClient } from '@bp/nbd';
import { startStorageDaemon, type StorageDaemon } from '@bp/nbd/qemu';
import { createQcow2 } from './helpers/images.js';
import { makeTempDir } from './helpers/temp-dir.js';

const KiB = 1024;
const MiB = 1024 * KiB;
let dir: { path: string; remove: () => Promise<void> };
let daemon: StorageDaemon | undefined;

beforeEach(async () => {
  dir = await makeTempDir();
});
afterEach(async () => {
  await daemon?.stop();
  daemon = undefined;
  await dir.remove();
});

test('qemu-storage-daemon export: guest writes tracked by a bitmap are copied from its dirty extents', async () => {
  const image = join(dir.path, 'disk.qcow2');
  await createQcow2(image, 32 * MiB);
  daemon = await startStorageDaemon({
    args: ['--blockdev', `driver=file,node-name=file0,filename=${image}`, '--blockdev', 'driver=qcow2,node-name=disk0,file=file0'],
  });
  const socketPath = join(daemon.dir, 'nbd.sock');
  await daemon.qmp.execute('block-dirty-bitmap-add', { node: 'disk0', name: 'b1', granularity: 64 * KiB });
  await daemon.qmp.execute('nbd-server-start', { addr: { type: 'unix', data: { path: socketPath } } });
  await daemon.qmp.execute('block-export-add', { type: 'nbd', id: 'e0', 'node-name': 'disk0', name: 'disk', writable: true, bitmaps: ['b1'] });

  const written = [
    { offset: 0, length: 64 * KiB },
    { offset: 3 * MiB, length: MiB + 128 * KiB },
    { offset: 31 * MiB, length: MiB },
  ];
  const expected = Buffer.alloc(32 * MiB);
  {
    await using guest = await NbdClient.connect({ socketPath, exportName: 'disk' });
    await Promise.all(
      written.map((range) => {
        const data = randomBytes(range.length);
        data.copy(expected, range.offset);
        return guest.write(range.offset, data);
      }),
    );
    await guest.flush();
  }

  await using source = await NbdClient.connect({ socketPath, exportName: 'disk', metaContexts: ['qemu:dirty-bitmap:b1'] });
  const regions = [];
  for await (const region of dirtyRegions(source, 'b1', { requestLength: 4 * MiB })) regions.push(region);
  expect(regions).toEqual(written);

  const targetPath = join(dir.path, 'copy.raw');
  const target = await createFileTarget(targetPath, { size: source.size });
  try {
    const stats = await copyRegions({ source, target, regions: dirtyRegions(source, 'b1'), discardSource: true, requestSize: 512 * KiB });
    expect(stats.bytesWritten).toBe(written.reduce((sum, range) => sum + range.length, 0));
    expect(stats.discardStopped).toBe(false);
  } finally {
    await target.close();
  }
  expect(Buffer.compare(await readFile(targetPath), expected)).toBe(0);
});

test('a started daemon keeps its NBD bounce buffers in the heap (no page faults over every request)', async () => {
  daemon = await startStorageDaemon();
  const environ = (await readFile(`/proc/${daemon.pid}/environ`, 'utf8')).split('\0');
  // Measured: 2 MiB requests cost ~7× the system time without these (see qemu/server-env.ts).
  expect(environ).toContain(`MALLOC_MMAP_THRESHOLD_=${32 * MiB}`);
  expect(environ).toContain(`MALLOC_TRIM_THRESHOLD_=${256 * MiB}`);
  // The caller's environment is kept.
  expect(environ.some((entry) => entry.startsWith('PATH='))).toBe(true);
});
