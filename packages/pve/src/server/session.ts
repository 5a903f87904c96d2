import type { Socket } from 'node:net';
import { BpError, ERROR_CODES, type ErrorCode, type LogLevel } from '@bp/api';
import {
  CALL_FAILED,
  INVALID_REQUEST,
  METHOD_NOT_FOUND,
  PARSE_ERROR,
  PROTOCOL_VERSION,
  VERSION_MISMATCH,
  type HelloParams,
  type HelloResult,
  type RpcError,
  type ServerRole,
} from '../protocol/messages.js';
import { readLines, writeLine } from '../protocol/ndjson.js';
import type { Handler } from './handler.js';

/** What a session serves. */
export interface SessionOptions {
  role: ServerRole;
  type: string;
  /** Methods by name, available after `bp.hello`. */
  handlers: Record<string, Handler>;
  /** Called with a log line that belongs to no running call (e.g. logged by a provider between calls). */
  onStrayLog?: (level: LogLevel, message: string) => void;
  /** `bp.shutdown` was requested. */
  onShutdown?: () => void;
}

function errorOf(error: unknown): RpcError {
  if (BpError.isInstance(error)) return { code: CALL_FAILED, message: error.message, data: { bpCode: error.code, details: error.details } };
  const message = error instanceof Error ? error.message : String(error);
  return { code: CALL_FAILED, message, data: { bpCode: 'BP_PROVIDER_FAILED' } };
}

/**
 * One Perl connection: checks `bp.hello` first, runs requests (each with its own AbortSignal),
 * streams `log` notifications while a call runs, aborts a call on `cancel` and every running
 * call when the connection closes.
 */
export class Session {
  private greeted = false;
  private readonly running = new Map<number | string, AbortController>();
  /** The most recent call still running: provider log lines are attributed to it. */
  private current: number | string | undefined;
  private readonly settled: Promise<void>[] = [];
  /** Requests this side sent to Perl (protocol 2: `regions.next`), by id. */
  private readonly pending = new Map<string, { resolve(result: unknown): void; reject(error: unknown): void }>();
  private nextRequest = 0;

  constructor(
    private readonly socket: Socket,
    private readonly options: SessionOptions,
  ) {
    readLines(socket, (message) => this.onMessage(message), () => this.send({ jsonrpc: '2.0', id: null, error: { code: PARSE_ERROR, message: 'a line was not JSON' } }));
    socket.on('close', () => {
      this.abortAll('the Perl side closed the connection');
      for (const waiting of this.pending.values()) waiting.reject(new BpError('BP_BRIDGE_DIED', 'the Perl side closed the connection before it answered'));
      this.pending.clear();
    });
    socket.on('error', () => undefined); // 'close' follows
  }

  /** Resolves when every call started on this session has settled. */
  async drain(): Promise<void> {
    await Promise.allSettled(this.settled);
  }

  /** Aborts every running call (connection gone, parent dead, SIGTERM). */
  abortAll(reason: string): void {
    for (const controller of this.running.values()) controller.abort(new BpError('BP_ABORTED', reason));
  }

  /** Sends a log line for the current call (or a stray one). Returns false if nobody listens. */
  log(level: LogLevel, message: string): void {
    if (this.current === undefined && this.options.onStrayLog) this.options.onStrayLog(level, message);
    this.send({ jsonrpc: '2.0', method: 'log', params: { ...(this.current === undefined ? {} : { id: this.current }), level, message } });
  }

  /**
   * Sends a request to the Perl side while call `call` runs there (the Perl side answers it from
   * its wait loop). Rejects with the Perl side's BP code, with BP_BRIDGE_DIED when the
   * connection closes, and with the signal's reason when `signal` aborts first.
   */
  request(call: number | string, method: string, params: Record<string, unknown>, signal?: AbortSignal): Promise<unknown> {
    const id = `n${++this.nextRequest}`;
    return new Promise((resolve, reject) => {
      if (signal?.aborted) return reject(signal.reason);
      const onAbort = (): void => {
        this.pending.delete(id);
        reject(signal?.reason);
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      const settle = (): void => {
        signal?.removeEventListener('abort', onAbort);
        this.pending.delete(id);
      };
      this.pending.set(id, {
        resolve: (result) => {
          settle();
          resolve(result);
        },
        reject: (error) => {
          settle();
          reject(error);
        },
      });
      if (!writeLine(this.socket, { jsonrpc: '2.0', id, method, params: { ...params, call } })) {
        this.pending.get(id)?.reject(new BpError('BP_BRIDGE_DIED', 'the Perl side closed the connection'));
      }
    });
  }

  private onReply(id: string, message: { result?: unknown; error?: unknown }): void {
    const waiting = this.pending.get(id);
    if (!waiting) return;
    if (message.error === undefined) {
      waiting.resolve(message.result ?? null);
      return;
    }
    const error = message.error as { message?: unknown; data?: { bpCode?: unknown } };
    const bpCode = error.data?.bpCode;
    const code: ErrorCode = typeof bpCode === 'string' && Object.hasOwn(ERROR_CODES, bpCode) ? (bpCode as ErrorCode) : 'BP_BRIDGE_PROTOCOL';
    waiting.reject(new BpError(code, typeof error.message === 'string' ? error.message : 'the Perl side failed the request'));
  }

  private send(message: unknown): void {
    writeLine(this.socket, message);
  }

  private onMessage(raw: unknown): void {
    const message = raw as { jsonrpc?: unknown; id?: unknown; method?: unknown; params?: unknown; result?: unknown; error?: unknown };
    if (typeof message === 'object' && message !== null && message.method === undefined && typeof message.id === 'string' && this.pending.has(message.id)) {
      this.onReply(message.id, message);
      return;
    }
    if (typeof message !== 'object' || message === null || message.jsonrpc !== '2.0' || typeof message.method !== 'string') {
      this.send({ jsonrpc: '2.0', id: null, error: { code: INVALID_REQUEST, message: 'not a JSON-RPC 2.0 message' } });
      return;
    }
    const params = (typeof message.params === 'object' && message.params !== null ? message.params : {}) as Record<string, unknown>;
    const id = typeof message.id === 'number' || typeof message.id === 'string' ? message.id : undefined;
    if (id === undefined) {
      if (message.method === 'cancel') this.running.get(params.id as number | string)?.abort(new BpError('BP_ABORTED', 'the Perl side abandoned the call (die or signal)'));
      return;
    }
    if (message.method === 'bp.hello') {
      this.hello(id, params as unknown as HelloParams);
      return;
    }
    // bp.shutdown works without a hello, so that a newer Perl side can replace a stale server.
    if (message.method === 'bp.shutdown') {
      this.send({ jsonrpc: '2.0', id, result: null });
      this.options.onShutdown?.();
      return;
    }
    if (!this.greeted) {
      this.send({ jsonrpc: '2.0', id, error: { code: VERSION_MISMATCH, message: 'bp.hello must come first', data: { bpCode: 'BP_BRIDGE_PROTOCOL' } } });
      return;
    }
    const handler = this.options.handlers[message.method];
    if (!handler) {
      this.send({ jsonrpc: '2.0', id, error: { code: METHOD_NOT_FOUND, message: `unknown method ${message.method}`, data: { bpCode: 'BP_BRIDGE_PROTOCOL' } } });
      return;
    }
    this.settled.push(this.run(id, handler, params));
  }

  private hello(id: number | string, params: HelloParams): void {
    if (params.protocol !== PROTOCOL_VERSION || params.role !== this.options.role || params.type !== this.options.type) {
      const message = `the Perl module speaks protocol ${String(params.protocol)} as ${String(params.role)} for type ${String(params.type)}, this Node process protocol ${PROTOCOL_VERSION} as ${this.options.role} for type ${this.options.type}; reinstall the plugin with 'bp pve install'`;
      this.send({ jsonrpc: '2.0', id, error: { code: VERSION_MISMATCH, message, data: { bpCode: 'BP_BRIDGE_PROTOCOL' } } });
      return;
    }
    this.greeted = true;
    const result: HelloResult = { protocol: PROTOCOL_VERSION, role: this.options.role, type: this.options.type, pid: process.pid };
    this.send({ jsonrpc: '2.0', id, result });
  }

  private async run(id: number | string, handler: Handler, params: Record<string, unknown>): Promise<void> {
    const controller = new AbortController();
    this.running.set(id, controller);
    const previous = this.current;
    this.current = id;
    try {
      const result = await handler(params, {
        signal: controller.signal,
        log: (level, message) => this.send({ jsonrpc: '2.0', method: 'log', params: { id, level, message } }),
        request: (method, requestParams) => this.request(id, method, requestParams, controller.signal),
      });
      this.send({ jsonrpc: '2.0', id, result: result === undefined ? null : result });
    } catch (error) {
      this.send({ jsonrpc: '2.0', id, error: errorOf(controller.signal.aborted && !BpError.isInstance(error) ? controller.signal.reason : error) });
    } finally {
      this.running.delete(id);
      if (this.current === id) this.current = previous;
    }
  }
}
