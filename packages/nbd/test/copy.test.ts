import { randomBytes } from 'node:crypto';
import { readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { BpError } from '@bp/api/errors';
import { allocatedRegions, copyRegions, createFileSource, createFileTarget, createNbdTarget, dirtyRegions, NbdClient, type CopyProgress } from '@bp/nbd';
import { startQemuNbd, type QemuNbdServer } from '@bp/nbd/qemu';
import { createQcow2, imagesEqual, qemuIo, writeRandom } from './helpers/images.js';
import { startNbdkit, type NbdkitServer } from './helpers/nbdkit.js';
import { makeTempDir } from './helpers/temp-dir.js';

const MiB = 1024 * 1024;
let dir: { path: string; remove: () => Promise<void> };
let stops: Array<() => Promise<void>> = [];

beforeEach(async () => {
  dir = await makeTempDir();
  stops = [];
});
afterEach(async () => {
  for (const stop of stops.reverse()) await stop();
  await dir.remove();
});

async function serve(image: string, options: { bitmaps?: string[]; readOnly?: boolean } = {}): Promise<QemuNbdServer> {
  const server = await startQemuNbd({ image, format: 'qcow2', ...options });
  stops.push(() => server.stop());
  return server;
}

async function nbdkit(args: string[]): Promise<NbdkitServer> {
  const server = await startNbdkit(args);
  stops.push(() => server.stop());
  return server;
}

/** A qcow2 with random data, explicit zeroes and holes. */
async function makeSource(path: string): Promise<void> {
  await createQcow2(path, 48 * MiB);
  await writeRandom(path, 0, 3 * MiB + 4096, join(dir.path, 'p1'));
  await writeRandom(path, 10 * MiB + 65536, 5 * MiB, join(dir.path, 'p2'));
  await qemuIo(path, ['write -z 20M 4M', 'write -P 0 30M 1M', 'write -P 0x5a 47M 1M']);
}

describe('copyRegions', () => {
  test('full copy of base:allocation regions into a fresh qcow2 through qemu-nbd is identical and skips zeroes', async () => {
    const sourceImage = join(dir.path, 'source.qcow2');
    await makeSource(sourceImage);
    const targetImage = join(dir.path, 'target.qcow2');
    await createQcow2(targetImage, 48 * MiB);
    const sourceServer = await serve(sourceImage, { readOnly: true });
    const targetServer = await serve(targetImage);
    await using source = await NbdClient.connect(sourceServer.uri, { metaContexts: ['base:allocation'] });
    await using targetClient = await NbdClient.connect(targetServer.uri);
    const progress: CopyProgress[] = [];
    const stats = await copyRegions({
      source,
      target: createNbdTarget(targetClient, { zeroInitialized: true }),
      regions: allocatedRegions(source),
      requestSize: MiB,
      inFlight: 4,
      totalBytes: source.size,
      onProgress: (event) => progress.push(event),
    });
    expect(stats.bytes).toBe(48 * MiB);
    // The 1 MiB of zero bytes written at 30M is detected; data is written in whole 64 KiB granules.
    expect(stats.bytesWritten).toBe(3 * MiB + 64 * 1024 + 5 * MiB + MiB);
    expect(progress.at(-1)).toMatchObject({ bytesDone: 48 * MiB, bytesTotal: 48 * MiB });
    await targetClient.close();
    await targetServer.stop();
    expect(await imagesEqual(sourceImage, targetImage)).toBe(true);
  });

  test('full copy into a raw file target, then an incremental of the dirty bitmap into an overlay', async () => {
    const sourceImage = join(dir.path, 'source.qcow2');
    await makeSource(sourceImage);
    const fullRaw = join(dir.path, 'full.raw');
    {
      const server = await serve(sourceImage, { readOnly: true });
      await using source = await NbdClient.connect(server.uri, { metaContexts: ['base:allocation'] });
      const target = await createFileTarget(fullRaw, { size: source.size });
      expect(target.zeroInitialized).toBe(true);
      try {
        await copyRegions({ source, target, regions: allocatedRegions(source) });
      } finally {
        await target.close();
      }
      await server.stop();
    }
    expect(await imagesEqual(sourceImage, fullRaw, 'qcow2', 'raw')).toBe(true);
    // Sparse: far less allocated than the 48 MiB size.
    expect((await stat(fullRaw)).blocks * 512).toBeLessThan(12 * MiB);

    const full = join(dir.path, 'full.qcow2');
    await execa('qemu-img', ['convert', '-f', 'raw', '-O', 'qcow2', fullRaw, full]);
    await execa('qemu-img', ['bitmap', '--add', sourceImage, 'b0']);
    await writeRandom(sourceImage, 2 * MiB, 2 * MiB, join(dir.path, 'p3'));
    await qemuIo(sourceImage, ['write -z 11M 64k', 'write -P 7 40M 192k']);
    const overlay = join(dir.path, 'overlay.qcow2');
    await createQcow2(overlay, 48 * MiB, full);
    const sourceServer = await serve(sourceImage, { readOnly: true, bitmaps: ['b0'] });
    const overlayServer = await serve(overlay);
    await using source = await NbdClient.connect(sourceServer.uri, { metaContexts: ['qemu:dirty-bitmap:b0'] });
    await using targetClient = await NbdClient.connect(overlayServer.uri);
    const stats = await copyRegions({ source, target: createNbdTarget(targetClient), regions: dirtyRegions(source, 'b0') });
    expect(stats.bytes).toBe(2 * MiB + 64 * 1024 + 192 * 1024);
    expect(stats.bytesZeroed).toBe(64 * 1024);
    await targetClient.close();
    await overlayServer.stop();
    expect(await imagesEqual(sourceImage, overlay)).toBe(true);
  });

  test('discards each copied piece on the source once it is written', async () => {
    const server = await nbdkit(['memory', 'size=8M']);
    const original = randomBytes(8 * MiB);
    await using source = await NbdClient.connect(server.uri);
    await source.write(0, original);
    const targetPath = join(dir.path, 'target.raw');
    const target = await createFileTarget(targetPath, { size: source.size });
    const stats = await copyRegions({ source, target, regions: [{ offset: 0, length: 8 * MiB }], discardSource: true, requestSize: MiB });
    await target.close();
    expect(stats.bytesDiscarded).toBe(8 * MiB);
    expect(Buffer.compare(await readFile(targetPath), original)).toBe(0);
    expect(Buffer.from(await source.read(0, 8 * MiB)).every((byte) => byte === 0)).toBe(true);

  });

  test('a failing discard warns once and stops discarding', async () => {
    const server = await nbdkit(['--filter=error', 'memory', 'size=4M', 'error-trim=EIO', 'error-trim-rate=100%']);
    await using source = await NbdClient.connect(server.uri);
    await source.write(0, Buffer.alloc(4 * MiB, 3));
    const warnings: BpError[] = [];
    const targetPath = join(dir.path, 'target.raw');
    const target = await createFileTarget(targetPath, { size: source.size });
    const stats = await copyRegions({ source, target, regions: [{ offset: 0, length: 4 * MiB }], discardSource: true, requestSize: 512 * 1024, onWarning: (warning) => warnings.push(warning) });
    await target.close();
    expect(warnings).toHaveLength(1);
    expect(stats.discardStopped).toBe(true);
    expect(Buffer.from(await readFile(targetPath)).every((byte) => byte === 3)).toBe(true);
  });

  test('a read error fails the copy with BP_NBD_IO after in-flight requests settle', async () => {
    const server = await nbdkit(['--filter=error', 'memory', 'size=16M', 'error-pread=EIO', 'error-pread-rate=30%']);
    await using source = await NbdClient.connect(server.uri);
    const target = await createFileTarget(join(dir.path, 'target.raw'), { size: source.size });
    const error = await copyRegions({ source, target, regions: [{ offset: 0, length: 16 * MiB }], requestSize: 256 * 1024, detectZeroes: false }).catch((caught: unknown) => caught);
    await target.close();
    expect(BpError.hasCode(error, 'BP_NBD_IO')).toBe(true);
    expect(source.inFlight).toBe(0);
  });

  test('abort stops the copy with BP_ABORTED and leaves nothing in flight', async () => {
    const server = await nbdkit(['--filter=delay', 'memory', 'size=64M', 'rdelay=50ms']);
    await using source = await NbdClient.connect(server.uri);
    const target = await createFileTarget(join(dir.path, 'target.raw'), { size: source.size });
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 200);
    const error = await copyRegions({ source, target, regions: [{ offset: 0, length: 64 * MiB }], requestSize: 256 * 1024, inFlight: 2, signal: controller.signal }).catch((caught: unknown) => caught);
    await target.close();
    expect(BpError.hasCode(error, 'BP_ABORTED')).toBe(true);
    expect(source.inFlight).toBe(0);
  });

  test('file source to file target with zero detection and a bandwidth limit', async () => {
    const sourcePath = join(dir.path, 'source.raw');
    const data = Buffer.alloc(8 * MiB);
    randomBytes(MiB).copy(data, MiB);
    randomBytes(100_000).copy(data, 5 * MiB + 12345);
    await writeFile(sourcePath, data);
    const source = await createFileSource(sourcePath, { discard: true });
    const targetPath = join(dir.path, 'target.raw');
    const target = await createFileTarget(targetPath, { size: source.size });
    const stats = await copyRegions({ source, target, regions: [{ offset: 0, length: source.size }], bandwidthLimit: 64 * MiB, discardSource: true });
    expect(stats.bytesDiscarded).toBe(8 * MiB);
    await Promise.all([source.close(), target.close()]);
    expect(Buffer.compare(await readFile(targetPath), data)).toBe(0);
    expect(stats.bytesWritten).toBe(MiB + 2 * 65536);
    expect((await stat(targetPath)).blocks * 512).toBeLessThanOrEqual(2 * MiB);
    // Discard punched holes into the source file.
    expect((await stat(sourcePath)).blocks).toBe(0);
  });

  test('reads only inside the given regions (the snapshot-access rule) and discards exactly what it copied', async () => {
    const sourcePath = join(dir.path, 'source.raw');
    await writeFile(sourcePath, randomBytes(16 * MiB));
    const file = await createFileSource(sourcePath);
    const regions = [
      { offset: 3 * MiB + 4096, length: 5 * MiB },
      { offset: 12 * MiB, length: 64 * 1024 },
    ];
    const inside = (offset: number, length: number): boolean => regions.some((region) => offset >= region.offset && offset + length <= region.offset + region.length);
    const reads: Array<[number, number]> = [];
    const discards: Array<[number, number]> = [];
    const source = {
      size: file.size,
      read: (offset: number, length: number, buffer: Uint8Array) => (reads.push([offset, length]), file.read(offset, length, buffer)),
      discard: async (offset: number, length: number) => void discards.push([offset, length]),
    };
    const target = await createFileTarget(join(dir.path, 'target.raw'), { size: file.size });
    await copyRegions({ source, target, regions, discardSource: true, requestSize: MiB });
    await Promise.all([file.close(), target.close()]);
    expect(reads.every(([offset, length]) => inside(offset, length))).toBe(true);
    expect(reads.reduce((sum, [, length]) => sum + length, 0)).toBe(5 * MiB + 64 * 1024);
    // Discarded exactly what was read (pieces may be merged into fewer calls).
    const union = (ranges: Array<[number, number]>): Array<[number, number]> =>
      [...ranges].sort((a, b) => a[0] - b[0]).reduce<Array<[number, number]>>((merged, [offset, length]) => {
        const last = merged.at(-1);
        if (last && last[0] + last[1] === offset) last[1] += length;
        else merged.push([offset, length]);
        return merged;
      }, []);
    expect(union(discards)).toEqual(union(reads));
  });

  test('rejects regions outside the source and bad options', async () => {
    const sourcePath = join(dir.path, 'source.raw');
    await writeFile(sourcePath, Buffer.alloc(MiB));
    const source = await createFileSource(sourcePath);
    const target = await createFileTarget(join(dir.path, 'target.raw'), { size: MiB });
    await expect(copyRegions({ source, target, regions: [{ offset: MiB - 512, length: 1024 }] })).rejects.toSatisfy((error) => BpError.hasCode(error, 'BP_INVALID_ARGUMENT'));
    await expect(copyRegions({ source, target, regions: [], inFlight: 0 })).rejects.toSatisfy((error) => BpError.hasCode(error, 'BP_INVALID_ARGUMENT'));
    await expect(copyRegions({ source, target, regions: [], bandwidthLimit: 0 })).rejects.toSatisfy((error) => BpError.hasCode(error, 'BP_INVALID_ARGUMENT'));
    await Promise.all([source.close(), target.close()]);
  });
});

test('a low bandwidth limit is kept from the start: no burst of a whole request', async () => {
  const dir = await makeTempDir();
  try {
    const sourcePath = join(dir.path, 'limited.raw');
    await writeFile(sourcePath, randomBytes(3 * MiB));
    const source = await createFileSource(sourcePath);
    const target = await createFileTarget(join(dir.path, 'limited-copy.raw'), { size: source.size });
    const rate = 2 * MiB;
    const started = performance.now();
    await copyRegions({ source, target, regions: [{ offset: 0, length: source.size }], bandwidthLimit: rate });
    const elapsed = performance.now() - started;
    await Promise.all([source.close(), target.close()]);
    // 3 MiB at 2 MiB/s is 1.5 s; at most a quarter second of it may come as an initial burst.
    expect(elapsed).toBeGreaterThanOrEqual(1250 - 20);
  } finally {
    await dir.remove();
  }
});
