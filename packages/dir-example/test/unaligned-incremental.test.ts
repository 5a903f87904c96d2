import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type CopySource, type Region, type VolumeSource } from '@bp/nbd';
import { readQcow2Header } from '@bp/nbd/qcow2';
import { writeImage } from '../src/provider/write-image.js';

const SIZE = 8 * 1024 * 1024;
/** The base is written at 128 KiB clusters, so the incrementals must adopt that size. */
const BASE_CLUSTER = 128 * 1024;
const IMAGE = 'drive-scsi0.qcow2';

/** A guest disk in memory whose changes are fed to writeImage as explicit, unaligned regions. */
function memorySource(disk: Buffer, regions: Region[]): VolumeSource {
  const source: CopySource = {
    size: disk.length,
    async read(offset, length, buffer) {
      buffer.set(disk.subarray(offset, offset + length));
    },
  };
  return {
    source,
    regions: (async function* () {
      yield* regions;
    })(),
    close: async () => undefined,
  };
}

/** Changes the disk like a guest would and returns the regions that became dirty. */
function change(disk: Buffer, writes: { offset: number; length: number; fill: 'random' | 'zero' }[]): Region[] {
  return writes.map(({ offset, length, fill }) => {
    if (fill === 'random') randomBytes(length).copy(disk, offset);
    else disk.fill(0, offset, offset + length);
    return { offset, length };
  });
}

async function qemuNbdProcessesUnder(dir: string): Promise<string[]> {
  const { stdout } = await execa('ps', ['-eo', 'args=']);
  return stdout.split('\n').filter((line) => line.startsWith('qemu-nbd') && line.includes(dir));
}

describe('incremental images with dirty regions smaller than a cluster', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'bp-dir-unaligned-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  async function writeBase(disk: Buffer): Promise<void> {
    await mkdir(join(dir, 'gen0'));
    const raw = join(dir, 'gen0.raw');
    await writeFile(raw, disk);
    await execa('qemu-img', ['convert', '-q', '-f', 'raw', '-O', 'qcow2', '-o', `cluster_size=${BASE_CLUSTER}`, raw, join(dir, 'gen0', IMAGE)]);
  }

  async function expectImageMatches(generation: number, disk: Buffer): Promise<void> {
    const image = join(dir, `gen${generation}`, IMAGE);
    const raw = join(dir, `gen${generation}.raw`);
    await writeFile(raw, disk);
    await execa('qemu-img', ['check', '-q', '-f', 'qcow2', image]);
    const compared = await execa('qemu-img', ['compare', '-f', 'qcow2', '-F', 'raw', image, raw], { reject: false });
    expect(compared.exitCode, compared.stdout + compared.stderr).toBe(0);
  }

  it('completes partial clusters from the whole backing chain', async () => {
    const disk = Buffer.alloc(SIZE);
    randomBytes(6 * 1024 * 1024).copy(disk, 1024 * 1024);
    await writeBase(disk);

    // Generation 1: sub-cluster writes, one crossing a cluster boundary, one zero run inside data.
    const gen1 = change(disk, [
      { offset: 1024 * 1024 + 4096, length: 4096, fill: 'random' },
      { offset: 3 * BASE_CLUSTER - 1000, length: 3000, fill: 'random' },
      { offset: 20 * BASE_CLUSTER + 512, length: 8192, fill: 'zero' },
      { offset: 40 * BASE_CLUSTER + 777 * 512, length: 2 * BASE_CLUSTER + 4096, fill: 'random' },
    ]);
    await mkdir(join(dir, 'gen1'));
    await writeImage(memorySource(disk, gen1), { imagePath: join(dir, 'gen1', IMAGE), size: SIZE, backingFile: `../gen0/${IMAGE}` });
    await expectImageMatches(1, disk);

    // Generation 2 touches clusters generation 1 left alone: their rest must come from gen0 through gen1.
    const gen2 = [
      ...change(disk, [
        { offset: 10 * BASE_CLUSTER + 512, length: 1024, fill: 'random' },
        { offset: 30 * BASE_CLUSTER + 4096, length: 4096, fill: 'zero' },
        { offset: 40 * BASE_CLUSTER + 10 * 512, length: 512, fill: 'random' },
      ]),
      { offset: 50 * BASE_CLUSTER + 1536, length: 2048, zero: true },
    ];
    disk.fill(0, 50 * BASE_CLUSTER + 1536, 50 * BASE_CLUSTER + 1536 + 2048);
    await mkdir(join(dir, 'gen2'));
    await writeImage(memorySource(disk, gen2), { imagePath: join(dir, 'gen2', IMAGE), size: SIZE, backingFile: `../gen1/${IMAGE}` });
    await expectImageMatches(2, disk);

    for (const generation of [1, 2]) {
      const header = await readQcow2Header(join(dir, `gen${generation}`, IMAGE));
      expect(2 ** header.clusterBits).toBe(BASE_CLUSTER);
      expect(header.backingFile).toBe(`../gen${generation - 1}/${IMAGE}`);
      expect(header.backingFormat).toBe('qcow2');
    }
    // Only the touched clusters are stored in the overlay, not a copy of the base.
    expect((await stat(join(dir, 'gen2', IMAGE))).size).toBeLessThan(SIZE / 4);
    expect(await qemuNbdProcessesUnder(dir)).toEqual([]);
  }, 120_000);

  it('removes the image and stops the backing reader when the copy fails', async () => {
    const disk = Buffer.alloc(SIZE);
    randomBytes(SIZE).copy(disk);
    await writeBase(disk);
    const [first] = change(disk, [{ offset: 5 * BASE_CLUSTER + 100 * 512, length: 512, fill: 'random' }]);
    // The snapshot access is lost only once the partial write has started the backing reader.
    const regions = (async function* (): AsyncGenerator<Region> {
      yield first!;
      for (let attempt = 0; (await qemuNbdProcessesUnder(dir)).length === 0; attempt++) {
        if (attempt > 600) throw new Error('the backing reader never started');
        await new Promise((done) => setTimeout(done, 50));
      }
      throw new Error('snapshot access lost');
    })();
    await mkdir(join(dir, 'gen1'));
    const imagePath = join(dir, 'gen1', IMAGE);
    const source = { ...memorySource(disk, []), regions };
    await expect(writeImage(source, { imagePath, size: SIZE, backingFile: `../gen0/${IMAGE}` })).rejects.toThrow(/snapshot access lost/);
    await expect(stat(imagePath)).rejects.toMatchObject({ code: 'ENOENT' });
    expect(await qemuNbdProcessesUnder(dir)).toEqual([]);
  }, 120_000);
});
