import type net from 'node:net';
import { BpError } from '@bp/api/errors';
import { ByteQueue } from '../protocol/index.js';
import { closedError } from './errors.js';
import type { SocketSink } from './socket.js';

/**
 * Pull-style reads during the handshake: `read(n)` resolves with exactly n bytes. A deadline
 * bounds the whole handshake; on close, error or deadline every waiter is rejected.
 */
export class HandshakeReader {
  readonly queue = new ByteQueue();
  private waiter: { count: number; resolve: (data: Buffer) => void; reject: (error: unknown) => void } | undefined;
  private failure: unknown;
  private readonly timer: NodeJS.Timeout;
  private readonly onData = (chunk: Buffer): void => {
    // Copy: the chunk lives in the socket's reused read buffer.
    this.queue.push(Buffer.from(chunk));
    this.wake();
  };
  private readonly onEnd = (): void => this.fail(closedError('the server hung up during the handshake'));
  private readonly onError = (error: Error): void => this.fail(closedError(`socket error during the handshake (${error.message})`, error));

  constructor(
    private readonly socket: net.Socket,
    private readonly sink: SocketSink,
    timeoutMs: number,
  ) {
    sink.onChunk = this.onData;
    socket.on('end', this.onEnd);
    socket.on('close', this.onEnd);
    socket.on('error', this.onError);
    this.timer = setTimeout(
      () => this.fail(new BpError('BP_TIMEOUT', `The NBD handshake took longer than ${timeoutMs} ms; check that the server answers.`)),
      timeoutMs,
    );
  }

  /** Resolves with the next `count` bytes. */
  read(count: number): Promise<Buffer> {
    if (this.failure !== undefined) return Promise.reject(this.failure);
    return new Promise((resolve, reject) => {
      this.waiter = { count, resolve, reject };
      this.wake();
    });
  }

  /**
   * Stops waiting; returns the queue of bytes received beyond the handshake. Bytes arriving
   * before the next owner replaces `sink.onChunk` keep landing in that queue.
   */
  detach(): ByteQueue {
    clearTimeout(this.timer);
    this.socket.off('end', this.onEnd);
    this.socket.off('close', this.onEnd);
    this.socket.off('error', this.onError);
    return this.queue;
  }

  private wake(): void {
    const waiter = this.waiter;
    if (waiter === undefined || this.queue.length < waiter.count) return;
    this.waiter = undefined;
    waiter.resolve(Buffer.from(this.queue.take(waiter.count)));
  }

  private fail(error: unknown): void {
    if (this.failure !== undefined) return;
    this.failure = error;
    clearTimeout(this.timer);
    const waiter = this.waiter;
    this.waiter = undefined;
    waiter?.reject(error);
  }
}
