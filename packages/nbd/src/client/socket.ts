import net from 'node:net';
import { BpError } from '@bp/api';
import type { NbdEndpoint } from '../uri.js';
import { closedError } from './errors.js';

/** Opens a stream socket to `endpoint`; the caller owns it (and must destroy it) once this resolves. */
export function openSocket(endpoint: NbdEndpoint, timeoutMs: number, signal?: AbortSignal): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    signal?.throwIfAborted();
    const socket =
      endpoint.transport === 'unix' ? net.connect({ path: endpoint.socketPath }) : net.connect({ host: endpoint.host, port: endpoint.port });
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
      resolve(socket);
    });
  });
}
