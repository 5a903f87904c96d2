import { BpError } from '@bp/api/errors';
import { Command, CommandFlag, TransmissionFlag } from '../protocol/index.js';
import { type NbdAddress, type NbdEndpoint, parseNbdUri } from '../uri.js';
import { NbdConnection, type RequestArguments } from './connection.js';
import type { BlockSize, NbdExportInfo, NbdExportListing } from './handshake.js';
import { exportInfo, listExports, listMetaContexts, negotiateExport, type HandshakeLimits } from './negotiate.js';
import type { Extent } from './pending-request.js';

/**
 * Where to connect: a libnbd/QEMU URI, or the parts of one. `metaContexts` given here are
 * negotiated as if passed in {@link NbdConnectOptions}.
 */
export type NbdTarget =
  | string
  | { socketPath: string; exportName?: string; metaContexts?: readonly string[] }
  | { host: string; port?: number; exportName?: string; metaContexts?: readonly string[] };

/** Options of {@link NbdClient.connect}. */
export interface NbdConnectOptions {
  /** Metadata contexts to negotiate, e.g. `base:allocation` or `qemu:dirty-bitmap:NAME`. */
  metaContexts?: readonly string[];
  /** Connections to open when the server advertises multi-conn (default 1). */
  connections?: number;
  /** Limit for connecting plus the handshake (default 30 s). */
  connectTimeoutMs?: number;
  /** Limit for any single request; exceeding it fails the connection (default 120 s). */
  requestTimeoutMs?: number;
  /** Cancels connecting. */
  signal?: AbortSignal;
}

/** What the server supports on this export. */
export interface NbdCapabilities {
  readOnly: boolean;
  flush: boolean;
  fua: boolean;
  trim: boolean;
  writeZeroes: boolean;
  fastZero: boolean;
  multiConn: boolean;
  df: boolean;
  cache: boolean;
  rotational: boolean;
}

/** Options of {@link NbdClient.writeZeroes}. */
export interface WriteZeroesOptions {
  /** Ask the server to allocate (not punch) the zeroed range. */
  noHole?: boolean;
  /** Fail fast with ENOTSUP instead of writing zeroes slowly (only when the server offers it). */
  fastZero?: boolean;
}

/** Largest range sent in one TRIM/WRITE_ZEROES/BLOCK_STATUS request. */
const MAX_RANGE_REQUEST = 1024 * 1024 * 1024;
const ZERO_WRITE_CHUNK = 1024 * 1024;

function toAddress(target: NbdTarget): NbdAddress {
  if (typeof target === 'string') return parseNbdUri(target);
  const endpoint: NbdEndpoint =
    'socketPath' in target ? { transport: 'unix', socketPath: target.socketPath } : { transport: 'tcp', host: target.host, port: target.port ?? 10809 };
  return { endpoint, exportName: target.exportName ?? '' };
}

function limitsOf(options: NbdConnectOptions): HandshakeLimits {
  return { timeoutMs: options.connectTimeoutMs ?? 30_000, signal: options.signal };
}

/**
 * A pure TypeScript NBD client: fixed-newstyle handshake, structured replies, metadata contexts,
 * pipelined requests, and several connections when the server allows multi-conn.
 *
 * Offsets and lengths are JS numbers (safe up to 2^53). Failures are BpErrors: `BP_NBD_PROTOCOL`
 * for server misbehaviour, `BP_NBD_IO` (with `details.errno`) for server-reported errors,
 * `BP_NBD_CLOSED`, `BP_TIMEOUT`, `BP_NBD_UNSUPPORTED`, `BP_INVALID_ARGUMENT`.
 */
export class NbdClient {
  private closed = false;

  private constructor(
    private readonly connections: NbdConnection[],
    /** The address this client is connected to. */
    readonly address: NbdAddress,
  ) {}

  /** Connects and negotiates an export. */
  static async connect(target: NbdTarget, options: NbdConnectOptions = {}): Promise<NbdClient> {
    const address = toAddress(target);
    const metaContexts = [...(options.metaContexts ?? []), ...(typeof target === 'string' ? [] : (target.metaContexts ?? []))];
    const open = async (): Promise<NbdConnection> => {
      const { opened, reader, negotiated } = await negotiateExport(address, metaContexts, limitsOf(options));
      return new NbdConnection(opened, reader.detach(), negotiated, options.requestTimeoutMs ?? 120_000);
    };
    const first = await open();
    const connections = [first];
    const wanted = (first.negotiated.flags & TransmissionFlag.CAN_MULTI_CONN) !== 0 ? Math.max(1, options.connections ?? 1) : 1;
    try {
      while (connections.length < wanted) connections.push(await open());
    } catch (error) {
      for (const connection of connections) connection.destroy();
      throw error;
    }
    return new NbdClient(connections, address);
  }

  /** Size, transmission flags and block sizes of an export (NBD_OPT_INFO), without opening it. */
  static info(target: NbdTarget, options: NbdConnectOptions = {}): Promise<NbdExportInfo> {
    return exportInfo(toAddress(target), limitsOf(options));
  }

  /** Lists a server's exports (NBD_OPT_LIST). The export part of `target` is ignored. */
  static list(target: NbdTarget, options: NbdConnectOptions = {}): Promise<NbdExportListing[]> {
    return listExports(toAddress(target), limitsOf(options));
  }

  /** Lists the metadata contexts of an export matching `queries` (all when empty). */
  static listMetaContexts(target: NbdTarget, queries: readonly string[] = [], options: NbdConnectOptions = {}): Promise<string[]> {
    return listMetaContexts(toAddress(target), queries, limitsOf(options));
  }

  private get primary(): NbdConnection {
    return this.connections[0]!;
  }

  /** The export name. */
  get exportName(): string {
    return this.primary.negotiated.exportName;
  }

  /** Export size in bytes. */
  get size(): number {
    return this.primary.negotiated.size;
  }

  /** Raw transmission flags. */
  get flags(): number {
    return this.primary.negotiated.flags;
  }

  /** Block-size constraints (protocol defaults when the server sent none). */
  get blockSize(): BlockSize {
    return this.primary.negotiated.blockSize;
  }

  /** Whether structured replies were negotiated. */
  get structuredReplies(): boolean {
    return this.primary.negotiated.structuredReplies;
  }

  /** Names of the negotiated metadata contexts. */
  get metaContexts(): string[] {
    return [...this.primary.negotiated.contexts.values()];
  }

  /** Number of open connections. */
  get connectionCount(): number {
    return this.connections.length;
  }

  /** Decoded transmission flags. */
  get can(): NbdCapabilities {
    const has = (flag: number): boolean => (this.flags & flag) !== 0;
    return {
      readOnly: has(TransmissionFlag.READ_ONLY),
      flush: has(TransmissionFlag.SEND_FLUSH),
      fua: has(TransmissionFlag.SEND_FUA),
      trim: has(TransmissionFlag.SEND_TRIM),
      writeZeroes: has(TransmissionFlag.SEND_WRITE_ZEROES),
      fastZero: has(TransmissionFlag.SEND_FAST_ZERO),
      multiConn: has(TransmissionFlag.CAN_MULTI_CONN),
      df: has(TransmissionFlag.SEND_DF),
      cache: has(TransmissionFlag.SEND_CACHE),
      rotational: has(TransmissionFlag.ROTATIONAL),
    };
  }

  /** Requests in flight over all connections. */
  get inFlight(): number {
    return this.connections.reduce((sum, connection) => sum + connection.inFlight, 0);
  }

  /**
   * Reads `length` bytes at `offset` into `buffer` (allocated when omitted) and returns the
   * filled view. Reads beyond the server's maximum payload are split.
   */
  async read(offset: number, length: number, buffer?: Uint8Array): Promise<Uint8Array> {
    this.checkRange(offset, length);
    const target = buffer ?? Buffer.allocUnsafe(length);
    if (target.length < length) throw new BpError('BP_INVALID_ARGUMENT', `read buffer of ${target.length} bytes is smaller than ${length}.`);
    const max = this.blockSize.maximum;
    const parts: Array<Promise<unknown>> = [];
    for (let at = 0; at < length; at += max) {
      const n = Math.min(max, length - at);
      parts.push(this.send({ command: Command.READ, offset: offset + at, length: n, buffer: target.subarray(at, at + n) }));
    }
    await Promise.all(parts);
    return target.subarray(0, length);
  }

  /** Writes `data` at `offset`. The buffer must stay unchanged until the promise settles. */
  async write(offset: number, data: Uint8Array, options: { fua?: boolean } = {}): Promise<void> {
    this.checkWritable();
    this.checkRange(offset, data.length);
    const flags = options.fua && this.can.fua ? CommandFlag.FUA : 0;
    const max = this.blockSize.maximum;
    const parts: Array<Promise<unknown>> = [];
    for (let at = 0; at < data.length; at += max) {
      const chunk = data.subarray(at, Math.min(data.length, at + max));
      parts.push(this.send({ command: Command.WRITE, flags, offset: offset + at, length: chunk.length, data: chunk }));
    }
    await Promise.all(parts);
  }

  /** Discards a range (NBD_CMD_TRIM). Throws BP_NBD_UNSUPPORTED when the server offers no trim. */
  async trim(offset: number, length: number): Promise<void> {
    this.checkWritable();
    if (!this.can.trim) throw new BpError('BP_NBD_UNSUPPORTED', `The NBD export "${this.exportName}" does not support TRIM.`);
    await this.ranged(Command.TRIM, 0, offset, length);
  }

  /**
   * Zeroes a range with NBD_CMD_WRITE_ZEROES (NO_HOLE / FAST_ZERO when asked and offered), or by
   * writing zero buffers when the server lacks the command.
   */
  async writeZeroes(offset: number, length: number, options: WriteZeroesOptions = {}): Promise<void> {
    this.checkWritable();
    if (!this.can.writeZeroes) {
      if (options.fastZero) throw new BpError('BP_NBD_UNSUPPORTED', 'The NBD server cannot zero fast.');
      this.checkRange(offset, length);
      const zeroes = Buffer.alloc(Math.min(ZERO_WRITE_CHUNK, length));
      for (let at = 0; at < length; at += zeroes.length) await this.write(offset + at, zeroes.subarray(0, Math.min(zeroes.length, length - at)));
      return;
    }
    let flags = options.noHole ? CommandFlag.NO_HOLE : 0;
    if (options.fastZero) {
      if (!this.can.fastZero) throw new BpError('BP_NBD_UNSUPPORTED', 'The NBD server cannot zero fast.');
      flags |= CommandFlag.FAST_ZERO;
    }
    await this.ranged(Command.WRITE_ZEROES, flags, offset, length);
  }

  /** Makes completed writes durable; a no-op when the server offers no flush. */
  async flush(): Promise<void> {
    if (!this.can.flush) return;
    // With multi-conn a flush on one connection covers all; without it there is one connection.
    await this.send({ command: Command.FLUSH, offset: 0, length: 0 }, this.primary);
  }

  /**
   * Queries block status of `[offset, offset + length)` (length is capped at 1 GiB). Returns the
   * extents of every negotiated context, clipped to the request; the server may describe less
   * than asked, so callers page from the end of the shortest list.
   */
  async blockStatus(offset: number, length: number): Promise<Map<string, Extent[]>> {
    if (this.primary.negotiated.contexts.size === 0) {
      throw new BpError('BP_NBD_UNSUPPORTED', 'No metadata context was negotiated; connect with metaContexts (e.g. base:allocation).');
    }
    this.checkRange(offset, length);
    const extents = await this.send({ command: Command.BLOCK_STATUS, offset, length: Math.min(length, MAX_RANGE_REQUEST) });
    return extents ?? new Map();
  }

  /** Sends DISC on every connection after pending requests settle, then closes. Safe to call twice. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.all(this.connections.map((connection) => connection.close()));
  }

  /** Closes at once; pending requests fail with BP_NBD_CLOSED. */
  destroy(): void {
    this.closed = true;
    for (const connection of this.connections) connection.destroy();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  private async ranged(command: typeof Command.TRIM | typeof Command.WRITE_ZEROES, flags: number, offset: number, length: number): Promise<void> {
    this.checkRange(offset, length);
    const parts: Array<Promise<unknown>> = [];
    for (let at = 0; at < length; at += MAX_RANGE_REQUEST) {
      parts.push(this.send({ command, flags, offset: offset + at, length: Math.min(MAX_RANGE_REQUEST, length - at) }));
    }
    await Promise.all(parts);
  }

  private send(args: RequestArguments, connection?: NbdConnection): Promise<Map<string, Extent[]> | undefined> {
    if (this.closed) return Promise.reject(new BpError('BP_NBD_CLOSED', 'The NBD client is closed.'));
    let chosen = connection ?? this.primary;
    if (!connection) for (const candidate of this.connections) if (candidate.inFlight < chosen.inFlight) chosen = candidate;
    return chosen.send(args);
  }

  private checkRange(offset: number, length: number): void {
    if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || offset < 0 || length <= 0 || offset + length > this.size) {
      throw new BpError('BP_INVALID_ARGUMENT', `Range [${offset}, +${length}) is outside the export "${this.exportName}" of ${this.size} bytes.`);
    }
  }

  private checkWritable(): void {
    if (this.can.readOnly) throw new BpError('BP_NBD_UNSUPPORTED', `The NBD export "${this.exportName}" is read-only.`);
  }
}
