import net from 'node:net';
import { BpError } from '@bp/api/errors';
import type { NbdEndpoint } from '../uri.js';
import { closedError } from './errors.js';

/** Size of the reused read buffer of each connection. */
const READ_BUFFER_SIZE = 256 * 1024;

/**
 * Receives what the socket reads. The chunk lives in a buffer reused by the next read: a
 * consumer must copy whatever it keeps before returning.
 */
export interface SocketSink {
  onChunk: (chunk: Buffer) => void;
}

/** An open socket whose reads go to `sink` ('data' events are not emitted). */
export interface OpenSocket {
  socket: net.Socket;
  sink: SocketSink;
}

/**
 * Opens a stream socket to `endpoint`; the caller owns it (and must destroy it) once this
 * resolves. Reads land in one reused buffer instead of a fresh allocation per read, which keeps
 * the garbage collector out of bulk transfers.
 */
export function openSocket(endpoint: NbdEndpoint, timeoutMs: number, signal?: AbortSignal): Promise<OpenSocket> {
  return new Promise((resolve, reject) => {
    signal?.throwIfAborted();
    const sink: SocketSink = { onChunk: () => undefined };
    const onread = {
      buffer: Buffer.allocUnsafe(READ_BUFFER_SIZE),
      callback: (size: number, buffer: Uint8Array): boolean => {
        sink.onChunk(Buffer.from(buffer.buffer, buffer.byteOffset, size));
        return true;
      },
    };
    const socket =
      endpoint.transport === 'unix'
        ? net.connect({ path: endpoint.socketPath, onread })
        : net.connect({ host: endpoint.host, port: endpoint.port, onread });
    const where = endpoint.transport === 'unix' ? endpoint.socketPath : `${endpoint.host}:${endpoint.port}`;
    const fail = (error: unknown): void => {
      cleanup();
      socket.destroy();
      reject(error);
    };
    const onError = (error: Error): void =>
      fail(closedError(`could not connect to ${where} (${(error as NodeJS.ErrnoException).code ?? error.message})`, error));
    const onAbort = (): void => fail(new BpError('BP_ABORTED', `Connecting to ${where} was aborted.`));
    const timer = setTimeout(
      () => fail(new BpError('BP_TIMEOUT', `Connecting to the NBD server at ${where} took longer than ${timeoutMs} ms; check that it is running.`)),
      timeoutMs,
    );
    const cleanup = (): void => {
      clearTimeout(timer);
      socket.off('error', onError);
      signal?.removeEventListener('abort', onAbort);
    };
    socket.once('error', onError);
    signal?.addEventListener('abort', onAbort, { once: true });
    socket.once('connect', () => {
      cleanup();
      if (endpoint.transport === 'tcp') socket.setNoDelay(true);
      resolve({ socket, sink });
    });
  });
}
