import {
  ByteQueue,
  CHUNK_ERROR_BIT,
  ChunkType,
  Command,
  ReplyFlag,
  SIMPLE_REPLY_MAGIC,
  SIMPLE_REPLY_SIZE,
  STRUCTURED_REPLY_HEADER_SIZE,
  STRUCTURED_REPLY_MAGIC,
  readU64,
} from '../protocol/index.js';
import { ioError, protocolError } from './errors.js';
import type { Extent, PendingRequest } from './pending-request.js';

/** Largest non-data chunk payload buffered (block status, error text): 1 Mi descriptors. */
const MAX_CHUNK_PAYLOAD = 4 + 8 * 1024 * 1024;
const MAX_ERROR_PAYLOAD = 6 + 0xffff + 8;

/** What the parser needs from its connection. */
export interface ReplyParserHost {
  readonly structuredReplies: boolean;
  readonly exportSize: number;
  readonly contexts: Map<number, string>;
  /** Finds the pending request for a handle (undefined when unknown). */
  lookup(handle: number): PendingRequest | undefined;
  /** The reply for `request` is complete: settle it. */
  complete(request: PendingRequest): void;
}

type State =
  | { kind: 'header' }
  | { kind: 'simple-data'; request: PendingRequest; at: number; remaining: number }
  | { kind: 'payload'; request: PendingRequest; flags: number; type: number; length: number }
  | { kind: 'data-offset'; request: PendingRequest; flags: number; dataLength: number }
  | { kind: 'data-stream'; request: PendingRequest; flags: number; at: number; remaining: number };

/**
 * The transmission-phase reply reader: a small state machine over the received-chunk queue.
 * Read payloads stream straight into the request's buffer; every other payload is bounded before
 * it is buffered. Any violation throws a BP_NBD_PROTOCOL error (the connection is then unusable).
 */
export class ReplyParser {
  private state: State = { kind: 'header' };

  constructor(private readonly host: ReplyParserHost) {}

  /** True between replies (nothing half-read). */
  get idle(): boolean {
    return this.state.kind === 'header';
  }

  /** Consumes as much of `queue` as possible. */
  process(queue: ByteQueue): void {
    for (;;) {
      const state = this.state;
      switch (state.kind) {
        case 'header':
          if (!this.readHeader(queue)) return;
          break;
        case 'simple-data': {
          const n = Math.min(queue.length, state.remaining);
          if (n === 0) return;
          queue.copyInto(state.request.buffer!, state.at, n);
          state.at += n;
          state.remaining -= n;
          if (state.remaining === 0) {
            this.state = { kind: 'header' };
            this.host.complete(state.request);
          }
          break;
        }
        case 'data-offset': {
          if (queue.length < 8) return;
          const offset = readU64(queue.take(8), 0);
          const at = this.checkReadRange(state.request, offset, state.dataLength);
          this.state = { kind: 'data-stream', request: state.request, flags: state.flags, at, remaining: state.dataLength };
          break;
        }
        case 'data-stream': {
          const n = Math.min(queue.length, state.remaining);
          if (n === 0 && state.remaining > 0) return;
          queue.copyInto(state.request.buffer!, state.at, n);
          state.at += n;
          state.remaining -= n;
          if (state.remaining === 0) this.endChunk(state.request, state.flags);
          break;
        }
        case 'payload': {
          if (queue.length < state.length) return;
          const payload = queue.take(state.length);
          this.handlePayload(state.request, state.type, payload);
          this.endChunk(state.request, state.flags);
          break;
        }
      }
    }
  }

  private readHeader(queue: ByteQueue): boolean {
    if (queue.length < 4) return false;
    const magic = queue.peek(4).readUInt32BE(0);
    if (magic === SIMPLE_REPLY_MAGIC) {
      if (queue.length < SIMPLE_REPLY_SIZE) return false;
      const header = queue.take(SIMPLE_REPLY_SIZE);
      this.simpleReply(header.readUInt32BE(4), readU64(header, 8));
      return true;
    }
    if (magic === STRUCTURED_REPLY_MAGIC) {
      if (!this.host.structuredReplies) throw protocolError('structured reply without negotiation');
      if (queue.length < STRUCTURED_REPLY_HEADER_SIZE) return false;
      const header = queue.take(STRUCTURED_REPLY_HEADER_SIZE);
      this.chunkHeader(header.readUInt16BE(4), header.readUInt16BE(6), readU64(header, 8), header.readUInt32BE(16));
      return true;
    }
    throw protocolError(`bad reply magic 0x${magic.toString(16)}`);
  }

  private request(handle: number): PendingRequest {
    const request = this.host.lookup(handle);
    if (request === undefined) throw protocolError(`reply for unknown handle ${handle}`);
    return request;
  }

  private simpleReply(errno: number, handle: number): void {
    const request = this.request(handle);
    if (errno !== 0) {
      request.error = ioError(request.name, errno, undefined, { offset: request.offset, length: request.length });
      this.host.complete(request);
      return;
    }
    if (request.command === Command.BLOCK_STATUS) throw protocolError('simple reply to BLOCK_STATUS');
    if (request.command === Command.READ && request.length > 0) {
      this.state = { kind: 'simple-data', request, at: 0, remaining: request.length };
      return;
    }
    this.host.complete(request);
  }

  private chunkHeader(flags: number, type: number, handle: number, length: number): void {
    const request = this.request(handle);
    const isRead = request.command === Command.READ;
    switch (type) {
      case ChunkType.NONE:
        if (length !== 0 || (flags & ReplyFlag.DONE) === 0) throw protocolError('NONE chunk with payload or without DONE');
        this.endChunk(request, flags);
        return;
      case ChunkType.OFFSET_DATA:
        if (!isRead) throw protocolError(`data chunk in reply to ${request.name}`);
        if (length <= 8 || length - 8 > request.length) throw protocolError(`data chunk of ${length} bytes for a ${request.length}-byte read`, { length });
        this.state = { kind: 'data-offset', request, flags, dataLength: length - 8 };
        return;
      case ChunkType.OFFSET_HOLE:
        if (!isRead) throw protocolError(`hole chunk in reply to ${request.name}`);
        if (length !== 12) throw protocolError('hole chunk of wrong length');
        break;
      case ChunkType.BLOCK_STATUS:
        if (request.command !== Command.BLOCK_STATUS) throw protocolError(`block-status chunk in reply to ${request.name}`);
        if (length < 12 || (length - 4) % 8 !== 0 || length > MAX_CHUNK_PAYLOAD) throw protocolError(`block-status chunk of ${length} bytes`);
        break;
      default:
        if ((type & CHUNK_ERROR_BIT) === 0) throw protocolError(`unknown chunk type ${type}`);
        if (length < 6 || length > MAX_ERROR_PAYLOAD) throw protocolError(`error chunk of ${length} bytes`);
    }
    this.state = { kind: 'payload', request, flags, type, length };
  }

  private handlePayload(request: PendingRequest, type: number, payload: Buffer): void {
    if (type === ChunkType.OFFSET_HOLE) {
      const offset = readU64(payload, 0);
      const length = payload.readUInt32BE(8);
      if (length === 0) throw protocolError('empty hole chunk');
      const at = this.checkReadRange(request, offset, length);
      request.buffer!.fill(0, at, at + length);
      return;
    }
    if (type === ChunkType.BLOCK_STATUS) {
      this.blockStatus(request, payload);
      return;
    }
    this.errorChunk(request, type, payload);
  }

  private errorChunk(request: PendingRequest, type: number, payload: Buffer): void {
    const errno = payload.readUInt32BE(0);
    const messageLength = payload.readUInt16BE(4);
    const extra = type === ChunkType.ERROR_OFFSET ? 8 : 0;
    if (6 + messageLength + extra !== payload.length) throw protocolError('error chunk length does not match its message');
    if (errno === 0) throw protocolError('error chunk with errno 0');
    const message = payload.subarray(6, 6 + messageLength).toString('utf8');
    const details: Record<string, unknown> = { offset: request.offset, length: request.length };
    if (extra) {
      const offset = readU64(payload, 6 + messageLength);
      if (offset < request.offset || offset >= request.offset + request.length) throw protocolError('error offset outside the request');
      details.errorOffset = offset;
    }
    request.error ??= ioError(request.name, errno, message, details);
  }

  private blockStatus(request: PendingRequest, payload: Buffer): void {
    const name = this.host.contexts.get(payload.readUInt32BE(0));
    if (name === undefined) throw protocolError(`block status for unnegotiated context id ${payload.readUInt32BE(0)}`);
    const extents = (request.extents ??= new Map());
    if (extents.has(name)) throw protocolError(`two block-status chunks for context ${name}`);
    const end = request.offset + request.length;
    const list: Extent[] = [];
    let cursor = request.offset;
    for (let at = 4; at < payload.length; at += 8) {
      const length = payload.readUInt32BE(at);
      const flags = payload.readUInt32BE(at + 4);
      if (cursor >= end) throw protocolError('block-status descriptor outside the request', { context: name, offset: cursor });
      if (length === 0) throw protocolError('empty block-status descriptor');
      if (cursor + length > this.host.exportSize) throw protocolError('block-status descriptor beyond the end of the export');
      list.push({ offset: cursor, length: Math.min(length, end - cursor), flags });
      cursor += length;
    }
    extents.set(name, list);
  }

  /** Validates a data/hole range of a READ; returns its position in the buffer. */
  private checkReadRange(request: PendingRequest, offset: number, length: number): number {
    const start = offset - request.offset;
    const end = start + length;
    if (start < 0 || end > request.length) throw protocolError('read chunk outside the request', { offset, length });
    if (!request.covered.add(start, end)) throw protocolError('overlapping read chunks', { offset, length });
    request.coveredBytes += length;
    return start;
  }

  private endChunk(request: PendingRequest, flags: number): void {
    this.state = { kind: 'header' };
    if ((flags & ReplyFlag.DONE) === 0) return;
    if (request.error === undefined) this.checkComplete(request);
    this.host.complete(request);
  }

  private checkComplete(request: PendingRequest): void {
    if (request.command === Command.READ && request.coveredBytes !== request.length) {
      throw protocolError(`read reply covered ${request.coveredBytes} of ${request.length} bytes`);
    }
    if (request.command === Command.BLOCK_STATUS && (request.extents?.size ?? 0) === 0) {
      throw protocolError('block-status reply without descriptors');
    }
  }
}


