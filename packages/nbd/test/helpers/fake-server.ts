import net from 'node:net';
import { join } from 'node:path';

/** A request the fake server received in the transmission phase. */
export interface FakeRequest {
  flags: number;
  type: number;
  handle: Buffer;
  offset: number;
  length: number;
}

/** Decides what the fake server answers (raw bytes) to one request. */
export type Scenario = (request: FakeRequest, socket: net.Socket) => void;

const OPTION_REPLY_MAGIC = Buffer.from('0003e889045565a9', 'hex');

function optionReply(socket: net.Socket, option: number, type: number, data: Buffer = Buffer.alloc(0)): void {
  const header = Buffer.alloc(12);
  header.writeUInt32BE(option, 0);
  header.writeUInt32BE(type, 4);
  header.writeUInt32BE(data.length, 8);
  socket.write(Buffer.concat([OPTION_REPLY_MAGIC, header, data]));
}

/** Encodes a structured reply chunk header plus payload. */
export function chunk(handle: Buffer, type: number, flags: number, payload: Buffer, declaredLength = payload.length): Buffer {
  const header = Buffer.alloc(20);
  header.writeUInt32BE(0x668e33ef, 0);
  header.writeUInt16BE(flags, 4);
  header.writeUInt16BE(type, 6);
  handle.copy(header, 8);
  header.writeUInt32BE(declaredLength, 16);
  return Buffer.concat([header, payload]);
}

/** Encodes a simple reply. */
export function simpleReply(handle: Buffer, errno = 0, magic = 0x67446698): Buffer {
  const reply = Buffer.alloc(16);
  reply.writeUInt32BE(magic, 0);
  reply.writeUInt32BE(errno, 4);
  handle.copy(reply, 8);
  return reply;
}

/** Encodes an OFFSET_DATA payload. */
export function dataPayload(offset: number, data: Buffer): Buffer {
  const head = Buffer.alloc(8);
  head.writeBigUInt64BE(BigInt(offset));
  return Buffer.concat([head, data]);
}

/**
 * An in-process NBD server that negotiates correctly (fixed newstyle, structured replies,
 * `base:allocation` as context 1, an export of `size` bytes) and then answers with `scenario`,
 * for faults real servers cannot produce. `greeting` replaces the handshake entirely.
 */
export async function startFakeServer(
  dir: string,
  size: number,
  scenario: Scenario,
  greeting?: (socket: net.Socket) => void,
): Promise<{ uri: string; close: () => Promise<void> }> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => undefined);
    if (greeting) return greeting(socket);
    const hello = Buffer.alloc(18);
    hello.write('NBDMAGICIHAVEOPT', 0, 'latin1');
    hello.writeUInt16BE(3, 16);
    socket.write(hello);
    let buffer = Buffer.alloc(0);
    let phase: 'flags' | 'options' | 'transmission' = 'flags';
    socket.on('data', (data) => {
      buffer = Buffer.concat([buffer, data]);
      for (;;) {
        if (phase === 'flags') {
          if (buffer.length < 4) return;
          buffer = buffer.subarray(4);
          phase = 'options';
        } else if (phase === 'options') {
          if (buffer.length < 16) return;
          const length = buffer.readUInt32BE(12);
          if (buffer.length < 16 + length) return;
          const option = buffer.readUInt32BE(8);
          const body = buffer.subarray(16, 16 + length);
          buffer = buffer.subarray(16 + length);
          if (option === 10) {
            const nameLength = body.readUInt32BE(0);
            let at = 8 + nameLength;
            const count = body.readUInt32BE(4 + nameLength);
            for (let i = 0; i < count; i++) {
              const queryLength = body.readUInt32BE(at);
              const query = body.subarray(at + 4, at + 4 + queryLength).toString();
              at += 4 + queryLength;
              if (query === 'base:allocation') optionReply(socket, option, 4, Buffer.concat([Buffer.from([0, 0, 0, 1]), Buffer.from(query)]));
            }
            optionReply(socket, option, 1);
          } else if (option === 7) {
            const info = Buffer.alloc(12);
            info.writeBigUInt64BE(BigInt(size), 2);
            info.writeUInt16BE(1 | 4 | 32 | 64, 10);
            optionReply(socket, option, 3, info);
            optionReply(socket, option, 1);
            phase = 'transmission';
          } else if (option === 8) {
            optionReply(socket, option, 1);
          } else {
            optionReply(socket, option, 0x80000001);
          }
        } else {
          if (buffer.length < 28) return;
          const request: FakeRequest = {
            flags: buffer.readUInt16BE(4),
            type: buffer.readUInt16BE(6),
            handle: Buffer.from(buffer.subarray(8, 16)),
            offset: Number(buffer.readBigUInt64BE(16)),
            length: buffer.readUInt32BE(24),
          };
          const payload = request.type === 1 ? request.length : 0;
          if (buffer.length < 28 + payload) return;
          buffer = buffer.subarray(28 + payload);
          if (request.type === 2) return void socket.end();
          scenario(request, socket);
        }
      }
    });
  });
  const path = join(dir, 'fake.sock');
  await new Promise<void>((resolve) => server.listen(path, resolve));
  return {
    uri: `nbd+unix:///?socket=${path}`,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}
