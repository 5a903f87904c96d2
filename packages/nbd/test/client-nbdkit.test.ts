import { randomBytes } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { BpError } from '@bp/api/errors';
import { NbdClient } from '@bp/nbd';
import { makeTempDir } from './helpers/temp-dir.js';
import { startNbdkit, type NbdkitServer } from './helpers/nbdkit.js';

const MiB = 1024 * 1024;
let dir: { path: string; remove: () => Promise<void> };
let server: NbdkitServer | undefined;

beforeEach(async () => {
  dir = await makeTempDir();
});
afterEach(async () => {
  await server?.stop();
  server = undefined;
  await dir.remove();
});

describe('NbdClient against nbdkit', () => {
  test('memory plugin: pipelined writes, zeroes and trims read back; block status sees holes', async () => {
    server = await startNbdkit(['memory', 'size=16M']);
    await using client = await NbdClient.connect(server.uri, { metaContexts: ['base:allocation'], connections: 2 });
    expect(client.can.multiConn).toBe(true);
    expect(client.connectionCount).toBe(2);
    const expected = Buffer.alloc(16 * MiB);
    const writes = Array.from({ length: 16 }, (_, i) => {
      const data = randomBytes(512 * 1024);
      data.copy(expected, i * MiB);
      return client.write(i * MiB, data);
    });
    await Promise.all(writes);
    await client.writeZeroes(2 * MiB, 64 * 1024, { noHole: true });
    expected.fill(0, 2 * MiB, 2 * MiB + 64 * 1024);
    await client.trim(4 * MiB, MiB);
    expected.fill(0, 4 * MiB, 5 * MiB);
    await client.flush();
    const reads = await Promise.all(Array.from({ length: 16 }, (_, i) => client.read(i * MiB, MiB)));
    expect(Buffer.compare(Buffer.concat(reads.map((part) => Buffer.from(part))), expected)).toBe(0);
    const extents = (await client.blockStatus(0, 16 * MiB)).get('base:allocation') ?? [];
    expect(extents.some((extent) => extent.flags === 3 && extent.offset <= 4 * MiB && extent.offset + extent.length >= 5 * MiB)).toBe(true);
  });

  test('error filter: EIO on reads and on writes becomes BP_NBD_IO with the errno', async () => {
    server = await startNbdkit(['--filter=error', 'memory', 'size=4M', 'error-pread=EIO', 'error-pread-rate=100%', 'error-pwrite=ENOSPC', 'error-pwrite-rate=100%']);
    await using client = await NbdClient.connect(server.uri);
    const readError = await client.read(0, 4096).catch((error: unknown) => error);
    expect(BpError.hasCode(readError, 'BP_NBD_IO') && readError.details.errno).toBe('EIO');
    const writeError = await client.write(0, Buffer.alloc(4096, 1)).catch((error: unknown) => error);
    expect(BpError.hasCode(writeError, 'BP_NBD_IO') && writeError.details.errno).toBe('ENOSPC');
    // Errors are per request: the connection keeps working.
    await client.flush();
  });

  test('delay filter: slow replies still match, and a request timeout fails cleanly', async () => {
    server = await startNbdkit(['--filter=delay', 'memory', 'size=4M', 'rdelay=200ms']);
    {
      await using client = await NbdClient.connect(server.uri);
      await client.write(0, Buffer.alloc(8192, 9));
      const reads = await Promise.all([client.read(0, 4096), client.read(4096, 4096), client.read(8192, 4096)]);
      expect(reads.map((part) => part[0])).toEqual([9, 9, 0]);
      // close() lets requests in flight finish before DISC.
      const pending = client.read(0, 4096);
      const closing = client.close();
      expect((await pending)[0]).toBe(9);
      await closing;
    }
    const client = await NbdClient.connect(server.uri, { requestTimeoutMs: 50 });
    const error = await client.read(0, 4096).catch((caught: unknown) => caught);
    expect(BpError.hasCode(error, 'BP_TIMEOUT')).toBe(true);
    await client.close();
  });
});
