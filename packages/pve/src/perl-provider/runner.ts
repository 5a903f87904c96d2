import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import type { Socket } from 'node:net';
import { createInterface } from 'node:readline';
import { BpError, ERROR_CODES, type ErrorCode, type LogFunction, type LogLevel } from '@bp/api';
import { pvePackageRoot } from '../generate/package-files.js';
import { PROTOCOL_VERSION } from '../protocol/messages.js';
import { readLines, writeLine } from '../protocol/ndjson.js';

/** Which Perl plugin a runner serves, and how. */
export interface RunnerSpec {
  /** The storage plugin module, e.g. `PVE::Storage::Custom::MyPlugin`. */
  module: string;
  /** Perl include directories, searched before everything else. */
  include: readonly string[];
  /** Per-call time limit in ms; the runner is killed when a call exceeds it. */
  timeoutMs: number;
  /** The perl binary (default `perl` from PATH). */
  perl?: string;
}

/** Handles the Perl side's requests while a call runs (`regions.next`, `volume.discard`). */
export type RunnerRequestHandler = (params: Record<string, unknown>) => Promise<unknown>;

/** Options of one call. */
export interface RunnerCallOptions {
  /** Receives the call's log lines (the Perl `$log_function` / `$logfunc`) and what the provider prints. */
  log?: LogFunction;
  requests?: Record<string, RunnerRequestHandler>;
  /** Overrides the spec's time limit for this call. */
  timeoutMs?: number;
}

/** The runner script shipped with the package. */
export function runnerScript(): string {
  return `${pvePackageRoot()}perl/bin/bp-perl-runner`;
}

function runnerArgs(spec: RunnerSpec, io: string[]): string[] {
  return [runnerScript(), ...spec.include.flatMap((dir) => ['--include', dir]), '--module', spec.module, ...io];
}

function isErrorCode(code: unknown): code is ErrorCode {
  return typeof code === 'string' && Object.hasOwn(ERROR_CODES, code);
}

/** The BpError of an error reply: the Perl side's BP code, the Perl method named. */
export function errorFromReply(error: unknown, fallbackMethod: string): BpError {
  const value = (error ?? {}) as { message?: unknown; data?: { bpCode?: unknown; details?: { perlMethod?: unknown } } };
  const code = isErrorCode(value.data?.bpCode) ? value.data.bpCode : 'BP_PROVIDER_FAILED';
  const perlMethod = typeof value.data?.details?.perlMethod === 'string' ? value.data.details.perlMethod : fallbackMethod;
  const message = typeof value.message === 'string' ? value.message : 'unknown error';
  return new BpError(code, `Perl ${perlMethod} failed: ${message}`, { details: { perlMethod } });
}

interface Pending {
  method: string;
  resolve(result: unknown): void;
  reject(error: unknown): void;
  options: RunnerCallOptions;
}

const LEVELS = new Set(['info', 'warn', 'err']);

/**
 * One Perl runner process (`perl/bin/bp-perl-runner`) and the client side of the bridge
 * protocol on its descriptor 3: requests go to Perl, replies, `log` lines and Perl's own
 * requests (`regions.next`, `volume.discard`) come back. Calls run one at a time, as Perl runs
 * them. A call that exceeds its time limit kills the runner's process group (`BP_TIMEOUT`); a
 * runner that exits during a call fails it with `BP_BRIDGE_DIED` and its last stderr lines.
 * The process never keeps Node alive while idle, and exits when Node closes its end.
 */
export class PerlRunner {
  private readonly child: ChildProcess;
  private readonly socket: Socket;
  private readonly pending = new Map<number, Pending>();
  private nextId = 0;
  private queue: Promise<unknown> = Promise.resolve();
  private current: Pending | undefined;
  private readonly tail: string[] = [];
  private exitReason: string | undefined;
  private readonly exited: Promise<void>;
  // Whether the process and its socket keep Node's event loop alive (only while calls run);
  // switched only on changes, since unref() on a socket that is still connecting queues a listener.
  private referenced = true;
  /** False once the process exited or was killed; the owner starts a new one. */
  alive = true;

  constructor(
    readonly spec: RunnerSpec,
    private readonly label: string,
  ) {
    this.child = spawn(spec.perl ?? 'perl', runnerArgs(spec, ['--in', '3', '--out', '3']), {
      stdio: ['ignore', 'pipe', 'pipe', 'pipe'],
      // Own process group: a timeout kills the provider's helpers with it.
      detached: true,
    });
    this.socket = this.child.stdio[3] as Socket;
    this.exited = new Promise((resolve) => {
      this.child.once('exit', (code, signal) => {
        this.alive = false;
        this.exitReason ??= signal ? `was killed by ${signal}` : `exited with code ${String(code)}`;
        resolve();
      });
      this.child.once('error', (error) => {
        this.alive = false;
        this.exitReason ??= `could not start (${error.message})`;
        resolve();
      });
    });
    this.socket.on('error', () => undefined);
    this.socket.on('close', () => {
      void this.exited.then(() => this.failAll());
      // A runner that closed its end but lingers is killed, so its exit reports the failure.
      setTimeout(() => this.kill(), 2000).unref();
    });
    readLines(this.socket, (message) => this.onMessage(message), (line) => this.remember(`(not JSON) ${line}`));
    for (const stream of [this.child.stdout, this.child.stderr]) {
      if (!stream) continue;
      // Output never keeps Node alive; the protocol socket does while a call runs.
      (stream as Socket).unref?.();
      createInterface({ input: stream }).on('line', (line) => {
        this.remember(line);
        // What the provider prints (STDOUT is redirected to STDERR) goes to the running call's log.
        this.current?.options.log?.('info', line);
      });
    }
    this.idle();
  }

  /** The runner's process id. */
  get pid(): number | undefined {
    return this.child.pid;
  }

  private remember(line: string): void {
    this.tail.push(line);
    if (this.tail.length > 10) this.tail.shift();
  }

  private stderrTail(): string {
    const lines = this.tail.filter((line) => line.trim() !== '');
    return lines.length === 0 ? '' : `; its last output: ${lines.slice(-5).join(' | ')}`;
  }

  // Idle runners must not keep Node alive (the CLI exits; the runner sees its end close).
  private idle(): void {
    if (!this.referenced) return;
    this.referenced = false;
    this.child.unref();
    this.socket.unref();
  }

  private busy(): void {
    if (this.referenced) return;
    this.referenced = true;
    this.child.ref();
    this.socket.ref();
  }

  private failAll(): void {
    const reason = this.exitReason ?? 'closed its end';
    for (const [id, waiting] of this.pending) {
      this.pending.delete(id);
      waiting.reject(new BpError('BP_BRIDGE_DIED', `the Perl runner of ${this.label} (pid ${String(this.child.pid)}) ${reason} during ${waiting.method}${this.stderrTail()}`, { details: { method: waiting.method } }));
    }
  }

  private onMessage(raw: unknown): void {
    const message = raw as { id?: unknown; method?: unknown; params?: unknown; result?: unknown; error?: unknown };
    if (typeof message !== 'object' || message === null) return;
    const params = (typeof message.params === 'object' && message.params !== null ? message.params : {}) as Record<string, unknown>;
    if (message.method === 'log') {
      const level = (LEVELS.has(String(params.level)) ? params.level : 'info') as LogLevel;
      const text = typeof params.message === 'string' ? params.message : String(params.message ?? '');
      const owner = typeof params.id === 'number' ? this.pending.get(params.id) : this.current;
      owner?.options.log?.(level, text);
      return;
    }
    if (typeof message.method === 'string' && (typeof message.id === 'string' || typeof message.id === 'number')) {
      void this.answer(message.id, message.method, params);
      return;
    }
    if (typeof message.id !== 'number') return;
    const waiting = this.pending.get(message.id);
    if (!waiting) return;
    this.pending.delete(message.id);
    if (message.error !== undefined) waiting.reject(errorFromReply(message.error, `${this.spec.module} ${waiting.method}`));
    else waiting.resolve(message.result ?? null);
  }

  private async answer(id: string | number, method: string, params: Record<string, unknown>): Promise<void> {
    const handler = this.current?.options.requests?.[method];
    try {
      if (!handler) throw new BpError('BP_BRIDGE_PROTOCOL', `no request ${method} is open while ${this.current?.method ?? 'no call'} runs`);
      const result = await handler(params);
      writeLine(this.socket, { jsonrpc: '2.0', id, result: result ?? null });
    } catch (error) {
      const code = BpError.isInstance(error) ? error.code : 'BP_BACKUP_FAILED';
      writeLine(this.socket, { jsonrpc: '2.0', id, error: { code: -32000, message: (error as Error).message ?? String(error), data: { bpCode: code } } });
    }
  }

  /**
   * Sends one request and resolves with its result. Calls queue behind each other; the time
   * limit starts when the request is sent.
   */
  call(method: string, params: Record<string, unknown>, options: RunnerCallOptions = {}): Promise<unknown> {
    const run = this.queue.then(
      () => this.send(method, params, options),
      () => this.send(method, params, options),
    );
    this.queue = run.catch(() => undefined);
    return run;
  }

  private send(method: string, params: Record<string, unknown>, options: RunnerCallOptions): Promise<unknown> {
    if (!this.alive) {
      return Promise.reject(new BpError('BP_BRIDGE_DIED', `the Perl runner of ${this.label} ${this.exitReason ?? 'is gone'}; ${method} was not sent${this.stderrTail()}`));
    }
    const id = ++this.nextId;
    const timeoutMs = options.timeoutMs ?? this.spec.timeoutMs;
    this.busy();
    let sent: Pending | undefined;
    return new Promise<unknown>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.exitReason = `was killed after ${method} ran longer than ${timeoutMs} ms`;
        const waiting = this.pending.get(id);
        this.pending.delete(id);
        this.kill();
        waiting?.reject(
          new BpError('BP_TIMEOUT', `Perl ${this.spec.module} ${method} did not return within ${timeoutMs} ms; the runner (pid ${String(this.child.pid)}) was killed${this.stderrTail()}`, {
            details: { method, timeoutMs },
          }),
        );
      }, timeoutMs);
      const entry: Pending = {
        method,
        options,
        resolve: (result) => {
          clearTimeout(timer);
          resolve(result);
        },
        reject: (error) => {
          clearTimeout(timer);
          reject(error);
        },
      };
      this.pending.set(id, entry);
      this.current = entry;
      sent = entry;
      if (!writeLine(this.socket, { jsonrpc: '2.0', id, method, params })) {
        this.pending.delete(id);
        entry.reject(new BpError('BP_BRIDGE_DIED', `the Perl runner of ${this.label} is not reachable${this.stderrTail()}`));
      }
    }).finally(() => {
      if (this.current === sent) this.current = undefined;
      if (this.pending.size === 0) this.idle();
    });
  }

  /** Checks the protocol version: the first call on every runner. */
  async hello(): Promise<{ type?: string; pid: number }> {
    return (await this.call('bp.hello', { protocol: PROTOCOL_VERSION, role: 'runner', pid: process.pid })) as { type?: string; pid: number };
  }

  /** Kills the runner's process group (the provider's helpers with it). */
  kill(): void {
    this.alive = false;
    const pid = this.child.pid;
    if (pid === undefined) return;
    try {
      process.kill(-pid, 'SIGKILL');
    } catch {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  }

  /** Closes the connection (the runner exits at end of input); kills it after `graceMs`. */
  async close(graceMs = 5000): Promise<void> {
    if (this.alive) {
      this.busy();
      this.socket.end();
      const timer = setTimeout(() => this.kill(), graceMs);
      await this.exited;
      clearTimeout(timer);
    }
    this.socket.destroy();
  }
}

/**
 * One request answered by a runner started for it alone, synchronously (PVE's `parse_volname`
 * is synchronous in the @bp/api contract, and the plugin's description is needed before
 * `open`). The request goes in on stdin, the reply comes back on descriptor 3.
 */
export function callOnce(spec: RunnerSpec, method: string, params: Record<string, unknown>, log?: LogFunction): unknown {
  const input = [
    { jsonrpc: '2.0', id: 1, method: 'bp.hello', params: { protocol: PROTOCOL_VERSION, role: 'runner', pid: process.pid } },
    { jsonrpc: '2.0', id: 2, method, params },
  ]
    .map((message) => `${JSON.stringify(message)}\n`)
    .join('');
  const result = spawnSync(spec.perl ?? 'perl', runnerArgs(spec, ['--in', '0', '--out', '3']), {
    input,
    stdio: ['pipe', 'pipe', 'pipe', 'pipe'],
    timeout: spec.timeoutMs,
    killSignal: 'SIGKILL',
    maxBuffer: 64 * 1024 * 1024,
  });
  const stderr = String(result.stderr ?? '').trim();
  if (result.error && (result.error as NodeJS.ErrnoException).code === 'ETIMEDOUT') {
    throw new BpError('BP_TIMEOUT', `Perl ${spec.module} ${method} did not return within ${spec.timeoutMs} ms; the runner was killed`, { details: { method } });
  }
  if (result.error) throw new BpError('BP_BRIDGE_DIED', `cannot start the Perl runner for ${spec.module}: ${result.error.message}`);
  const replies = String(result.output[3] ?? '')
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => JSON.parse(line) as { id?: unknown; method?: unknown; params?: { level?: string; message?: string }; result?: unknown; error?: unknown });
  for (const message of replies) {
    if (message.method === 'log' && log) log((LEVELS.has(String(message.params?.level)) ? message.params?.level : 'info') as LogLevel, String(message.params?.message ?? ''));
  }
  for (const id of [1, 2]) {
    const reply = replies.find((message) => message.id === id && message.method === undefined);
    if (!reply) {
      const tail = stderr.split('\n').slice(-5).join(' | ');
      throw new BpError('BP_BRIDGE_DIED', `the Perl runner for ${spec.module} ended before it answered ${id === 1 ? 'bp.hello' : method} (${result.signal ?? `exit code ${String(result.status)}`})${tail ? `; its last output: ${tail}` : ''}`);
    }
    if (reply.error !== undefined) throw errorFromReply(reply.error, `${spec.module} ${method}`);
    if (id === 2) return reply.result ?? null;
  }
  return null;
}
