import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { BpError } from '@bp/api/errors';
import { NbdClient } from '@bp/nbd';
import { createQcow2, qemuIo, readImage, writeRandom } from './helpers/images.js';
import { useQemuNbdScratch } from './helpers/qemu-nbd-scratch.js';

const MiB = 1024 * 1024;
const scratch = useQemuNbdScratch();

const serve = scratch.serve;

describe('NbdClient against qemu-nbd', () => {
  test('negotiates size, flags, block sizes and contexts, lists exports', async () => {
    const image = join(scratch.path(), 'disk.qcow2');
    await createQcow2(image, 64 * MiB);
    await qemuIo(image, ['write -P 0xab 1M 2M']);
    const server = await serve(image);
    await using client = await NbdClient.connect(server.uri, { metaContexts: ['base:allocation'] });
    expect(client.size).toBe(64 * MiB);
    expect(client.exportName).toBe('disk');
    expect(client.structuredReplies).toBe(true);
    expect(client.can).toMatchObject({ readOnly: false, flush: true, trim: true, writeZeroes: true });
    expect(client.metaContexts).toEqual(['base:allocation']);
    expect(client.blockSize.maximum).toBeGreaterThanOrEqual(MiB);
    expect(await NbdClient.list(server.uri)).toEqual([{ name: 'disk', description: '' }]);
    expect(await NbdClient.info(server.uri)).toMatchObject({ exportName: 'disk', size: 64 * MiB, blockSize: client.blockSize });
    const extents = (await client.blockStatus(0, client.size)).get('base:allocation');
    expect(extents?.find((extent) => extent.offset === MiB)).toEqual({ offset: MiB, length: 2 * MiB, flags: 0 });
  });

  test('random data written through pipelined requests reads back identically with qemu-img', async () => {
    const image = join(scratch.path(), 'disk.qcow2');
    await createQcow2(image, 32 * MiB);
    const server = await serve(image);
    const expected = Buffer.alloc(32 * MiB);
    {
      await using client = await NbdClient.connect(server.uri);
      // Non-overlapping writes of random size inside 40 slots, all in flight at once.
      const slot = (32 * MiB) / 40;
      const writes = Array.from({ length: 40 }, (_, i) => {
        const length = 512 * (1 + Math.floor(Math.random() * (slot / 1024)));
        const offset = Math.floor(i * slot) + 512 * Math.floor(Math.random() * ((slot - length) / 512));
        const data = randomBytes(length);
        data.copy(expected, offset);
        return client.write(offset, data);
      });
      await Promise.all(writes);
      await client.writeZeroes(5 * MiB, 3 * MiB);
      expected.fill(0, 5 * MiB, 8 * MiB);
      await client.flush();
      const back = await client.read(0, 32 * MiB);
      expect(Buffer.compare(Buffer.from(back), expected)).toBe(0);
    }
    await server.stop();
    const raw = await readImage(image, join(scratch.path(), 'disk.raw'));
    expect(Buffer.compare(raw, expected)).toBe(0);
  });

  test('many reads in flight come back matched to their handles', async () => {
    const image = join(scratch.path(), 'disk.qcow2');
    await createQcow2(image, 16 * MiB);
    const data = await writeRandom(image, 0, 16 * MiB, join(scratch.path(), 'pattern'));
    const server = await serve(image, { readOnly: true });
    await using client = await NbdClient.connect(server.uri);
    const pieces = Array.from({ length: 64 }, (_, i) => ({ offset: i * 256 * 1024, length: 256 * 1024 - (i % 7) * 512 }));
    const results = await Promise.all(pieces.map((piece) => client.read(piece.offset, piece.length)));
    pieces.forEach((piece, i) => expect(Buffer.compare(Buffer.from(results[i]!), data.subarray(piece.offset, piece.offset + piece.length))).toBe(0));
  });

  test('unknown export, missing context, read-only writes and ranges are coded errors', async () => {
    const image = join(scratch.path(), 'disk.qcow2');
    await createQcow2(image, 4 * MiB);
    const server = await serve(image, { readOnly: true });
    await expect(NbdClient.connect(`nbd+unix:///nope?socket=${server.socketPath}`)).rejects.toSatisfy((error) => BpError.hasCode(error, 'BP_NOT_FOUND'));
    await using client = await NbdClient.connect(server.uri, { metaContexts: ['qemu:dirty-bitmap:absent'] });
    expect(client.metaContexts).toEqual([]);
    await expect(client.blockStatus(0, 4096)).rejects.toSatisfy((error) => BpError.hasCode(error, 'BP_NBD_UNSUPPORTED'));
    await expect(client.write(0, Buffer.alloc(512))).rejects.toSatisfy((error) => BpError.hasCode(error, 'BP_NBD_UNSUPPORTED'));
    await expect(client.read(4 * MiB - 512, 1024)).rejects.toSatisfy((error) => BpError.hasCode(error, 'BP_INVALID_ARGUMENT'));
    await expect(NbdClient.connect({ socketPath: join(scratch.path(), 'missing.sock') })).rejects.toSatisfy((error) => BpError.hasCode(error, 'BP_NBD_CLOSED'));
  });

  test('reports the dirty extents of a persistent bitmap', async () => {
    const image = join(scratch.path(), 'disk.qcow2');
    await createQcow2(image, 64 * MiB);
    await qemuIo(image, ['write -P 1 0 8M']);
    await import('execa').then(({ execa }) => execa('qemu-img', ['bitmap', '--add', image, 'b0']));
    await qemuIo(image, ['write -P 2 20M 64k', 'write -P 3 40M 1M']);
    const server = await serve(image, { bitmaps: ['b0'], readOnly: true });
    await using client = await NbdClient.connect(server.uri, { metaContexts: ['qemu:dirty-bitmap:b0'] });
    const extents = (await client.blockStatus(0, client.size)).get('qemu:dirty-bitmap:b0') ?? [];
    expect(extents.filter((extent) => extent.flags & 1).map(({ offset, length }) => [offset / MiB, length])).toEqual([
      [20, 64 * 1024],
      [40, MiB],
    ]);
  });
});
