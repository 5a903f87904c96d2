import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { BpError } from '@bp/api';
import { createQcow2Target, hasQcow2Magic, qcow2ClusterSizeFits, readQcow2Header } from '../src/qcow2-entry.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'bp-qcow2-header-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('the qcow2 header module', () => {
  it('reads what qemu-img wrote: version, size, cluster size, backing file and format', async () => {
    const base = join(dir, 'base.qcow2');
    const top = join(dir, 'tøp.qcow2');
    await execa('qemu-img', ['create', '-q', '-f', 'qcow2', '-o', 'cluster_size=128k', base, '3M']);
    await execa('qemu-img', ['create', '-q', '-f', 'qcow2', '-F', 'qcow2', '-b', 'base.qcow2', top], { cwd: dir });
    expect(await readQcow2Header(base)).toEqual({ version: 3, virtualSize: 3 * 1024 * 1024, clusterBits: 17, unsafe: [] });
    expect(await readQcow2Header(top)).toMatchObject({ backingFile: 'base.qcow2', backingFormat: 'qcow2', unsafe: [] });
  });

  it('flags an external data file and refuses a raw file', async () => {
    const image = join(dir, 'data-file.qcow2');
    await execa('qemu-img', ['create', '-q', '-f', 'qcow2', '-o', `data_file=${join(dir, 'data.raw')}`, image, '1M']);
    expect((await readQcow2Header(image)).unsafe).toContain('it uses an external data file');
    const raw = join(dir, 'disk.raw');
    await writeFile(raw, Buffer.alloc(4096));
    const error = await readQcow2Header(raw).catch((caught: unknown) => caught);
    expect(BpError.hasCode(error, 'BP_UNSAFE_IMAGE')).toBe(true);
  });

  it('knows the magic', () => {
    expect(hasQcow2Magic(Buffer.from('QFI\xfb\0\0\0\x03', 'latin1'))).toBe(true);
    expect(hasQcow2Magic(Buffer.from('QFI', 'latin1'))).toBe(false);
    expect(hasQcow2Magic(Buffer.from('QFI\xfa', 'latin1'))).toBe(false);
  });

  it('says which cluster sizes the writer can lay out, as the writer decides', async () => {
    const size = 2 ** 45; // 32 TiB: too many L1 entries for 8 KiB clusters
    expect(qcow2ClusterSizeFits(size, 8192)).toBe(false);
    expect(qcow2ClusterSizeFits(size, 64 * 1024)).toBe(true);
    const error = await createQcow2Target({ path: join(dir, 'huge.qcow2'), size, clusterSize: 8192 }).catch((caught: unknown) => caught);
    expect(BpError.hasCode(error, 'BP_INVALID_ARGUMENT')).toBe(true);
    const fitting = await createQcow2Target({ path: join(dir, 'fits.qcow2'), size, clusterSize: 64 * 1024 });
    await fitting.close();
  });
});
