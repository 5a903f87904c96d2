import { mkdir, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { NbdVmVolume } from '@bp/api';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { openVm } from '../../src/vm/index.js';
import { MiB, createPatternImage, dirtyExtents, scratchDir } from './support.js';

let scratch: Awaited<ReturnType<typeof scratchDir>>;
beforeEach(async () => {
  scratch = await scratchDir();
});
afterEach(async () => {
  await scratch.remove();
});

const bpNbdDirs = async (): Promise<string[]> => (await readdir('/tmp')).filter((name) => name.startsWith('bp-nbd-'));

it('serves the snapshot access from a work directory too deep for a Unix socket path, and cleans up', async () => {
  const disk = join(scratch.dir, 'disk.qcow2');
  await createPatternImage(disk, 'qcow2', 4 * MiB);
  // A tool's private TMPDIR inside another's: far beyond the 107 bytes of sun_path.
  const workDir = join(scratch.workDir, 'a-rather-long-directory-name-'.repeat(4), 'and-deeper-still');
  await mkdir(workDir, { recursive: true });
  const before = await bpNbdDirs();
  const vm = await openVm({ source: { kind: 'images', disks: [{ virtdev: 'scsi0', image: disk, format: 'qcow2' }] }, workDir });
  try {
    const access = await vm.setupAccess({ storeId: 'local', answers: { 'drive-scsi0': 'new' }, mechanism: 'nbd' });
    const volume = access.volumes['drive-scsi0'] as NbdVmVolume;
    expect(Buffer.byteLength(volume.nbdPath)).toBeLessThanOrEqual(107);
    expect(await dirtyExtents(`nbd+unix:///${volume.exportName}?socket=${volume.nbdPath}`, volume.bitmapName ?? '')).toEqual([{ offset: 0, length: 4 * MiB }]);
    await access.teardown(true);
  } finally {
    await vm.close();
  }
  expect(await bpNbdDirs()).toEqual(before);
});
