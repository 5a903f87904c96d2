import type net from 'node:net';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { BpError, type ErrorCode } from '@bp/api/errors';
import { NbdClient } from '@bp/nbd';
import { chunk, dataPayload, type FakeRequest, simpleReply, startFakeServer } from './helpers/fake-server.js';
import { makeTempDir } from './helpers/temp-dir.js';

const SIZE = 1024 * 1024;
let dir: { path: string; remove: () => Promise<void> };
let closeServer: (() => Promise<void>) | undefined;

beforeEach(async () => {
  dir = await makeTempDir();
});
afterEach(async () => {
  await closeServer?.();
  closeServer = undefined;
  await dir.remove();
});

type Operation = (client: NbdClient) => Promise<unknown>;
const read: Operation = (client) => client.read(0, 4096);
const blockStatus: Operation = (client) => client.blockStatus(0, 8192);

async function expectCoded(scenario: (request: FakeRequest, socket: net.Socket) => void, operation: Operation, code: ErrorCode, requestTimeoutMs = 30_000): Promise<BpError> {
  const server = await startFakeServer(dir.path, SIZE, scenario);
  closeServer = server.close;
  const client = await NbdClient.connect(server.uri, { metaContexts: ['base:allocation'], requestTimeoutMs });
  try {
    const error = await operation(client).then(
      () => undefined,
      (failure: unknown) => failure,
    );
    expect(BpError.isInstance(error), String(error)).toBe(true);
    expect((error as BpError).code).toBe(code);
    // The connection is then unusable, and says so at once instead of hanging.
    if (code !== 'BP_NBD_IO') await expect(client.read(0, 512)).rejects.toSatisfy((next) => BpError.isInstance(next));
    return error as BpError;
  } finally {
    await client.close();
  }
}

describe('a hostile or broken server yields coded errors, never a crash or hang', () => {
  test('bad reply magic', async () => {
    await expectCoded((request, socket) => socket.write(simpleReply(request.handle, 0, 0xdeadbeef)), read, 'BP_NBD_PROTOCOL');
  });

  test('reply for an unknown handle', async () => {
    await expectCoded((_request, socket) => socket.write(simpleReply(Buffer.from('ffffffffffffff00', 'hex'))), read, 'BP_NBD_PROTOCOL');
  });

  test('short data chunk', async () => {
    await expectCoded((request, socket) => socket.write(chunk(request.handle, 1, 1, Buffer.alloc(4))), read, 'BP_NBD_PROTOCOL');
  });

  test('oversized chunk length', async () => {
    await expectCoded((request, socket) => socket.write(chunk(request.handle, 1, 1, Buffer.alloc(0), 0x7fffffff)), read, 'BP_NBD_PROTOCOL');
  });

  test('data chunk outside the requested range', async () => {
    await expectCoded((request, socket) => socket.write(chunk(request.handle, 1, 1, dataPayload(request.offset + 512, Buffer.alloc(request.length)))), read, 'BP_NBD_PROTOCOL');
  });

  test('read reply that does not cover the request', async () => {
    await expectCoded((request, socket) => socket.write(chunk(request.handle, 1, 1, dataPayload(request.offset, Buffer.alloc(512)))), read, 'BP_NBD_PROTOCOL');
  });

  test('block-status descriptor outside the request', async () => {
    const payload = Buffer.alloc(4 + 16);
    payload.writeUInt32BE(1, 0);
    payload.writeUInt32BE(8192, 4);
    payload.writeUInt32BE(4096, 12);
    payload.writeUInt32BE(1, 16);
    await expectCoded((request, socket) => socket.write(chunk(request.handle, 5, 1, payload)), blockStatus, 'BP_NBD_PROTOCOL');
  });

  test('block status for a context that was not negotiated', async () => {
    const payload = Buffer.alloc(12);
    payload.writeUInt32BE(7, 0);
    payload.writeUInt32BE(8192, 4);
    await expectCoded((request, socket) => socket.write(chunk(request.handle, 5, 1, payload)), blockStatus, 'BP_NBD_PROTOCOL');
  });

  test('disconnect in the middle of a reply', async () => {
    await expectCoded(
      (request, socket) => {
        socket.write(chunk(request.handle, 1, 1, dataPayload(request.offset, Buffer.alloc(100)), 8 + request.length));
        setTimeout(() => socket.destroy(), 20);
      },
      read,
      'BP_NBD_CLOSED',
    );
  });

  test('a server that never answers times out', async () => {
    await expectCoded(() => undefined, read, 'BP_TIMEOUT', 300);
  });

  test('error chunks become BP_NBD_IO with the errno, and the connection stays usable', async () => {
    let calls = 0;
    const error = await expectCoded(
      (request, socket) => {
        if (calls++ > 0) return void socket.write(chunk(request.handle, 1, 1, dataPayload(request.offset, Buffer.alloc(request.length))));
        const message = Buffer.from('injected');
        const payload = Buffer.alloc(6 + message.length);
        payload.writeUInt32BE(5, 0);
        payload.writeUInt16BE(message.length, 4);
        message.copy(payload, 6);
        socket.write(chunk(request.handle, 0x8001, 1, payload));
      },
      async (client) => {
        const failure = await client.read(0, 4096).catch((caught: unknown) => caught);
        expect((await client.read(0, 4096)).length).toBe(4096);
        throw failure;
      },
      'BP_NBD_IO',
    );
    expect(error.details).toMatchObject({ errno: 'EIO' });
    expect(error.message).toContain('injected');
  });

  test('garbage instead of a greeting, and a hang-up during the handshake', async () => {
    const garbage = await startFakeServer(dir.path, SIZE, () => undefined, (socket) => socket.end(Buffer.alloc(64, 0x41)));
    closeServer = garbage.close;
    await expect(NbdClient.connect(garbage.uri)).rejects.toSatisfy((error) => BpError.hasCode(error, 'BP_NBD_PROTOCOL'));
    await garbage.close();
    const hangup = await startFakeServer(dir.path, SIZE, () => undefined, (socket) => socket.end(Buffer.from('NBDMAGIC')));
    closeServer = hangup.close;
    await expect(NbdClient.connect(hangup.uri)).rejects.toSatisfy((error) => BpError.hasCode(error, 'BP_NBD_CLOSED'));
    await hangup.close();
    const silent = await startFakeServer(dir.path, SIZE, () => undefined, () => undefined);
    closeServer = silent.close;
    await expect(NbdClient.connect(silent.uri, { connectTimeoutMs: 300 })).rejects.toSatisfy((error) => BpError.hasCode(error, 'BP_TIMEOUT'));
  });
});
