import type net from 'node:net';
import { BpError } from '@bp/api/errors';
import { RangeSet } from '../extents/range-set.js';
import { ByteQueue, Command, type CommandType, encodeRequest } from '../protocol/index.js';
import { closedError } from './errors.js';
import type { NegotiatedExport } from './handshake.js';
import type { OpenSocket } from './socket.js';
import type { Extent, PendingRequest } from './pending-request.js';
import { ReplyParser } from './reply-parser.js';

const COMMAND_NAMES: Record<number, string> = {
  [Command.READ]: 'READ',
  [Command.WRITE]: 'WRITE',
  [Command.FLUSH]: 'FLUSH',
  [Command.TRIM]: 'TRIM',
  [Command.WRITE_ZEROES]: 'WRITE_ZEROES',
  [Command.BLOCK_STATUS]: 'BLOCK_STATUS',
  [Command.CACHE]: 'CACHE',
};

/** Arguments of one transmission request. */
export interface RequestArguments {
  command: CommandType;
  flags?: number;
  offset: number;
  length: number;
  /** WRITE payload. */
  data?: Uint8Array;
  /** READ destination. */
  buffer?: Uint8Array;
}

/**
 * One negotiated NBD connection in the transmission phase: many requests in flight, matched by
 * handle. A protocol violation, a timeout or a socket error fails every pending request and
 * destroys the socket; later requests fail at once.
 */
export class NbdConnection {
  private readonly pending = new Map<number, PendingRequest>();
  private readonly parser: ReplyParser;
  private nextHandle = 1;
  /** Resolved when no request is pending any more (used by close). */
  private idleWaiters: Array<() => void> = [];
  private failure: BpError | undefined;
  private closing = false;
  private readonly closed: Promise<void>;

  private readonly socket: net.Socket;

  constructor(
    opened: OpenSocket,
    private readonly queue: ByteQueue,
    readonly negotiated: NegotiatedExport,
    private readonly requestTimeoutMs: number,
  ) {
    this.parser = new ReplyParser({
      structuredReplies: negotiated.structuredReplies,
      exportSize: negotiated.size,
      contexts: negotiated.contexts,
      lookup: (handle) => this.pending.get(handle),
      complete: (request) => this.settle(request),
    });
    const socket = (this.socket = opened.socket);
    this.closed = new Promise((resolve) => socket.once('close', () => resolve()));
    opened.sink.onChunk = (chunk) => {
      this.queue.push(chunk);
      this.drain();
      // Only an unparsed tail of the reused read buffer is copied.
      this.queue.ownNewest();
    };
    socket.on('error', (error) => this.fail(closedError(`socket error (${error.message})`, error)));
    socket.on('close', () => {
      if (!this.closing || this.pending.size > 0) this.fail(closedError('the server hung up'));
    });
    if (queue.length > 0) setImmediate(() => this.drain());
  }

  /** Requests awaiting a reply. */
  get inFlight(): number {
    return this.pending.size;
  }

  /** Sends one request; resolves with block-status extents for BLOCK_STATUS, otherwise undefined. */
  send(args: RequestArguments): Promise<Map<string, Extent[]> | undefined> {
    if (this.failure) return Promise.reject(this.failure);
    if (this.closing) return Promise.reject(closedError('the client is closing'));
    const handle = this.nextHandle++;
    return new Promise((resolve, reject) => {
      const request: PendingRequest = {
        handle,
        command: args.command,
        name: COMMAND_NAMES[args.command] ?? `command ${args.command}`,
        offset: args.offset,
        length: args.length,
        buffer: args.buffer,
        covered: new RangeSet(),
        coveredBytes: 0,
        resolve: () => resolve(request.extents),
        reject,
      };
      request.timer = setTimeout(() => {
        this.fail(new BpError('BP_TIMEOUT', `The NBD server did not answer ${request.name} within ${this.requestTimeoutMs} ms; check that it is alive.`));
      }, this.requestTimeoutMs);
      this.pending.set(handle, request);
      const header = encodeRequest(args.command, args.flags ?? 0, handle, args.offset, args.length);
      if (args.data) {
        this.socket.cork();
        this.socket.write(header);
        this.socket.write(args.data);
        this.socket.uncork();
      } else {
        this.socket.write(header);
      }
    });
  }

  /** Waits for pending requests, sends DISC and closes the socket. */
  async close(): Promise<void> {
    if (this.closing) return this.closed;
    this.closing = true;
    if (this.pending.size > 0) await new Promise<void>((resolve) => this.idleWaiters.push(resolve));
    if (!this.failure && !this.socket.destroyed) {
      this.socket.end(encodeRequest(Command.DISC, 0, this.nextHandle++, 0, 0));
      const timer = setTimeout(() => this.socket.destroy(), 5000);
      await this.closed;
      clearTimeout(timer);
    }
    this.socket.destroy();
    await this.closed;
  }

  /** Closes at once, failing pending requests. */
  destroy(reason = 'the client was closed'): void {
    this.closing = true;
    this.fail(closedError(reason));
  }

  private drain(): void {
    if (this.failure) return;
    try {
      this.parser.process(this.queue);
    } catch (error) {
      this.fail(BpError.isInstance(error) ? error : closedError('reply parsing failed', error));
    }
  }

  private settle(request: PendingRequest): void {
    clearTimeout(request.timer);
    this.pending.delete(request.handle);
    if (request.error) request.reject(request.error);
    else request.resolve();
    if (this.pending.size === 0) this.wakeIdle();
  }

  private wakeIdle(): void {
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const waiter of waiters) waiter();
  }

  private fail(error: BpError): void {
    if (!this.failure) this.failure = error;
    this.queue.clear();
    this.socket.destroy();
    for (const request of this.pending.values()) {
      clearTimeout(request.timer);
      request.reject(this.failure);
    }
    this.pending.clear();
    this.wakeIdle();
  }
}
