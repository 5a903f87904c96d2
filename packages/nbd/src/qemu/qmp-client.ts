import { EventEmitter } from 'node:events';
import { createConnection, type Socket } from 'node:net';
import { BpError } from '@bp/api/errors';

/** An asynchronous QMP event. */
export interface QmpEvent {
  readonly event: string;
  readonly data: Record<string, unknown>;
  readonly timestamp?: { seconds: number; microseconds: number };
}

/** The greeting a QMP server sends on connect. */
export interface QmpGreeting {
  readonly QMP: { version?: { qemu?: { major: number; minor: number; micro: number }; package?: string }; capabilities?: unknown[] };
}

/** Options for {@link QmpClient.connect}. */
export interface QmpConnectOptions {
  /** Limit for connect + greeting + capabilities negotiation (default 30 s). */
  readonly timeoutMs?: number;
}

/** Options for {@link QmpClient.execute}. */
export interface QmpExecuteOptions {
  /** Reject with `BP_TIMEOUT` if no answer arrives in time (default: wait as long as the socket lives). */
  readonly timeoutMs?: number;
}

interface Pending {
  readonly command: string;
  resolve(value: unknown): void;
  reject(error: unknown): void;
}

interface QmpReply {
  id?: unknown;
  return?: unknown;
  error?: { class?: string; desc?: string };
  event?: string;
  data?: Record<string, unknown>;
  timestamp?: { seconds: number; microseconds: number };
  QMP?: QmpGreeting['QMP'];
}

type QmpListener = ((event: QmpEvent) => void) | ((error: BpError) => void);

const DEFAULT_CONNECT_TIMEOUT_MS = 30_000;

/**
 * A QMP client on a Unix socket: negotiates capabilities, runs commands matched by `id` and
 * delivers events. Errors returned by QEMU become `BP_QMP_ERROR` with the QMP `class` and `desc`
 * in `details`; a socket that closes rejects every pending command with `BP_QEMU_FAILED`.
 */
export class QmpClient {
  /** The server's greeting (QEMU version and capabilities). */
  readonly greeting: QmpGreeting;
  private readonly socket: Socket;
  private readonly pending = new Map<number, Pending>();
  private readonly emitter = new EventEmitter();
  private nextId = 1;
  private closedError: BpError | undefined;

  private constructor(socket: Socket, greeting: QmpGreeting) {
    this.socket = socket;
    this.greeting = greeting;
  }

  /**
   * Connects to a QMP socket, reads the greeting and leaves capabilities-negotiation mode.
   *
   * @throws BpError `BP_QEMU_FAILED` if the socket refuses or closes, `BP_TIMEOUT` if the greeting is late.
   */
  static async connect(socketPath: string, options: QmpConnectOptions = {}): Promise<QmpClient> {
    const socket = createConnection({ path: socketPath });
    const timeoutMs = options.timeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS;
    let client: QmpClient;
    try {
      const greeting = await readGreeting(socket, socketPath, timeoutMs);
      client = new QmpClient(socket, greeting);
    } catch (error) {
      socket.destroy();
      throw error;
    }
    client.attach();
    try {
      await client.execute('qmp_capabilities', undefined, { timeoutMs });
    } catch (error) {
      await client.close();
      throw error;
    }
    return client;
  }

  /** True once the socket closed or {@link close} was called. */
  get closed(): boolean {
    return this.closedError !== undefined;
  }

  /**
   * Runs a QMP command and resolves with its `return` value.
   *
   * @throws BpError `BP_QMP_ERROR` (details: `command`, `class`, `desc`), `BP_QEMU_FAILED` if the
   *   connection closes first, `BP_TIMEOUT` after `timeoutMs`.
   */
  execute<T = unknown>(command: string, args?: Record<string, unknown>, options: QmpExecuteOptions = {}): Promise<T> {
    if (this.closedError) return Promise.reject(this.closedError);
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      let timer: NodeJS.Timeout | undefined;
      const settle = (): void => {
        if (timer) clearTimeout(timer);
        this.pending.delete(id);
      };
      this.pending.set(id, {
        command,
        resolve: (value) => {
          settle();
          resolve(value as T);
        },
        reject: (error) => {
          settle();
          reject(error);
        },
      });
      if (options.timeoutMs !== undefined) {
        timer = setTimeout(() => {
          this.pending.get(id)?.reject(
            new BpError('BP_TIMEOUT', `QMP command ${command} got no answer within ${String(options.timeoutMs)} ms`, {
              details: { command },
            }),
          );
        }, options.timeoutMs);
      }
      const message = args === undefined ? { execute: command, id } : { execute: command, arguments: args, id };
      this.socket.write(`${JSON.stringify(message)}\n`);
    });
  }

  /** Calls `listener` for every QMP event (`'event'`) or once when the connection closes (`'close'`). */
  on(name: 'event', listener: (event: QmpEvent) => void): this;
  on(name: 'close', listener: (error: BpError) => void): this;
  on(name: 'event' | 'close', listener: QmpListener): this {
    this.emitter.on(name, listener as (...args: unknown[]) => void);
    return this;
  }

  /** Removes a listener added with {@link on}. */
  off(name: 'event' | 'close', listener: QmpListener): this {
    this.emitter.off(name, listener as (...args: unknown[]) => void);
    return this;
  }

  /**
   * Resolves with the next event called `name` for which `predicate` holds. Call it before the
   * command that triggers the event, so the event cannot slip past.
   *
   * @throws BpError `BP_TIMEOUT` after `timeoutMs`, `BP_QEMU_FAILED` if the connection closes first.
   */
  waitForEvent(name: string, predicate: (event: QmpEvent) => boolean = () => true, options: { timeoutMs?: number } = {}): Promise<QmpEvent> {
    if (this.closedError) return Promise.reject(this.closedError);
    return new Promise<QmpEvent>((resolve, reject) => {
      let timer: NodeJS.Timeout | undefined;
      const cleanup = (): void => {
        if (timer) clearTimeout(timer);
        this.emitter.off('event', onEvent);
        this.emitter.off('close', onClose);
      };
      const onEvent = (event: QmpEvent): void => {
        if (event.event !== name) return;
        let matches: boolean;
        try {
          matches = predicate(event);
        } catch (error) {
          cleanup();
          reject(error);
          return;
        }
        if (matches) {
          cleanup();
          resolve(event);
        }
      };
      const onClose = (error: BpError): void => {
        cleanup();
        reject(error);
      };
      this.emitter.on('event', onEvent);
      this.emitter.on('close', onClose);
      if (options.timeoutMs !== undefined) {
        timer = setTimeout(() => {
          cleanup();
          reject(new BpError('BP_TIMEOUT', `QMP event ${name} did not arrive within ${String(options.timeoutMs)} ms`, { details: { event: name } }));
        }, options.timeoutMs);
      }
    });
  }

  /** Closes the connection; pending commands reject with `BP_QEMU_FAILED`. Idempotent. */
  async close(): Promise<void> {
    this.shutDown(new BpError('BP_QEMU_FAILED', 'the QMP connection was closed by the client'));
    if (!this.socket.destroyed) {
      await new Promise<void>((resolve) => {
        this.socket.once('close', () => resolve());
        this.socket.destroy();
      });
    }
  }

  private attach(): void {
    let buffered = '';
    this.socket.setEncoding('utf8');
    this.socket.on('data', (chunk: string) => {
      buffered += chunk;
      let newline = buffered.indexOf('\n');
      while (newline >= 0) {
        const line = buffered.slice(0, newline).trim();
        buffered = buffered.slice(newline + 1);
        if (line) this.dispatch(line);
        newline = buffered.indexOf('\n');
      }
    });
    this.socket.on('error', () => {
      // 'close' follows and rejects pending commands.
    });
    this.socket.on('close', () => {
      this.shutDown(new BpError('BP_QEMU_FAILED', 'the QMP connection closed (did the QEMU process exit?)'));
    });
  }

  private dispatch(line: string): void {
    let message: QmpReply;
    try {
      message = JSON.parse(line) as QmpReply;
    } catch {
      return;
    }
    if (typeof message.event === 'string') {
      const event: QmpEvent = { event: message.event, data: message.data ?? {}, ...(message.timestamp ? { timestamp: message.timestamp } : {}) };
      this.emitter.emit('event', event);
      return;
    }
    if (typeof message.id !== 'number') return;
    const pending = this.pending.get(message.id);
    if (!pending) return;
    if (message.error) {
      const errorClass = message.error.class ?? 'GenericError';
      const desc = message.error.desc ?? 'unknown error';
      pending.reject(
        new BpError('BP_QMP_ERROR', `QMP command ${pending.command} failed: ${desc} (${errorClass})`, {
          details: { command: pending.command, class: errorClass, desc },
        }),
      );
    } else {
      pending.resolve(message.return);
    }
  }

  private shutDown(error: BpError): void {
    if (this.closedError) return;
    this.closedError = error;
    for (const pending of [...this.pending.values()]) pending.reject(error);
    this.emitter.emit('close', error);
  }
}

function readGreeting(socket: Socket, socketPath: string, timeoutMs: number): Promise<QmpGreeting> {
  return new Promise<QmpGreeting>((resolve, reject) => {
    let buffered = '';
    const timer = setTimeout(() => {
      finish(new BpError('BP_TIMEOUT', `no QMP greeting on ${socketPath} within ${String(timeoutMs)} ms`, { details: { socketPath } }));
    }, timeoutMs);
    const finish = (error: unknown, greeting?: QmpGreeting): void => {
      clearTimeout(timer);
      socket.off('data', onData);
      socket.off('error', onError);
      socket.off('close', onClose);
      if (greeting) resolve(greeting);
      else reject(error);
    };
    const onData = (chunk: Buffer): void => {
      buffered += chunk.toString('utf8');
      const newline = buffered.indexOf('\n');
      if (newline < 0) return;
      try {
        const greeting = JSON.parse(buffered.slice(0, newline)) as Partial<QmpGreeting>;
        if (!greeting.QMP) throw new Error('first message is not a QMP greeting');
        // Anything after the greeting arrives only after qmp_capabilities, which we have not sent yet.
        finish(undefined, greeting as QmpGreeting);
      } catch (error) {
        finish(new BpError('BP_QEMU_FAILED', `bad QMP greeting on ${socketPath}: ${String(error)}`, { cause: error }));
      }
    };
    const onError = (error: NodeJS.ErrnoException): void => {
      finish(
        new BpError('BP_QEMU_FAILED', `cannot connect to QMP socket ${socketPath}: ${error.message}`, {
          cause: error,
          details: { socketPath, errno: error.code },
        }),
      );
    };
    const onClose = (): void => {
      finish(new BpError('BP_QEMU_FAILED', `QMP socket ${socketPath} closed before the greeting`, { details: { socketPath } }));
    };
    socket.on('data', onData);
    socket.on('error', onError);
    socket.on('close', onClose);
  });
}
