import { describe, expect, test } from 'vitest';
import { RangeSet } from '../extents/range-set.js';
import { ByteQueue, Command, STRUCTURED_REPLY_MAGIC } from '../protocol/index.js';
import type { PendingRequest } from './pending-request.js';
import { ReplyParser } from './reply-parser.js';

type TestRequest = PendingRequest & { done: boolean };

function readRequest(length: number): TestRequest {
  return {
    handle: 1,
    command: Command.READ,
    name: 'READ',
    offset: 4096,
    length,
    buffer: Buffer.alloc(length, 0xff),
    covered: new RangeSet(),
    coveredBytes: 0,
    done: false,
    resolve: () => undefined,
    reject: () => undefined,
  };
}

function parserFor(request: TestRequest): ReplyParser {
  return new ReplyParser({
    structuredReplies: true,
    exportSize: 1 << 30,
    contexts: new Map(),
    lookup: (handle) => (handle === 1 ? request : undefined),
    complete: () => {
      request.done = true;
    },
  });
}

/** An OFFSET_HOLE chunk for handle 1. */
function holeChunk(offset: number, length: number, done: boolean): Buffer {
  const chunk = Buffer.alloc(32);
  chunk.writeUInt32BE(STRUCTURED_REPLY_MAGIC, 0);
  chunk.writeUInt16BE(done ? 1 : 0, 4);
  chunk.writeUInt16BE(2, 6);
  chunk.writeUInt32BE(1, 12);
  chunk.writeUInt32BE(12, 16);
  chunk.writeUInt32BE(offset, 24);
  chunk.writeUInt32BE(length, 28);
  return chunk;
}

describe('ReplyParser read coverage', () => {
  test('many small chunks in any order, some fed byte by byte, complete a read exactly once', () => {
    const request = readRequest(64 * 1024);
    const parser = parserFor(request);
    const queue = new ByteQueue();
    const order = Array.from({ length: 1024 }, (_, i) => (i * 7919) % 1024);
    order.forEach((piece, index) => {
      const chunk = holeChunk(4096 + piece * 64, 64, index === order.length - 1);
      if (index % 100 === 0) {
        for (const byte of chunk) {
          queue.push(Buffer.from([byte]));
          parser.process(queue);
        }
      } else {
        queue.push(chunk);
        parser.process(queue);
      }
      expect(request.done).toBe(index === order.length - 1);
    });
    expect(request.coveredBytes).toBe(64 * 1024);
    expect(request.covered.list).toEqual([[0, 64 * 1024]]);
    expect(request.buffer!.every((byte) => byte === 0)).toBe(true);
  });

  test('an overlapping chunk is a protocol error', () => {
    const request = readRequest(8192);
    const parser = parserFor(request);
    const queue = new ByteQueue();
    queue.push(Buffer.concat([holeChunk(4096, 4096, false), holeChunk(4096 + 2048, 4096, true)]));
    expect(() => parser.process(queue)).toThrow(expect.objectContaining({ code: 'BP_NBD_PROTOCOL' }));
  });
});

describe('RangeSet', () => {
  test('merges neighbours, refuses overlaps and hands out long ranges', () => {
    const set = new RangeSet();
    expect(set.add(10, 20)).toBe(true);
    expect(set.add(30, 40)).toBe(true);
    expect(set.add(20, 30)).toBe(true);
    expect(set.list).toEqual([[10, 40]]);
    expect(set.add(35, 45)).toBe(false);
    expect(set.add(0, 5)).toBe(true);
    expect(set.take(10)).toEqual([[10, 40]]);
    expect(set.take()).toEqual([[0, 5]]);
    expect(set.list).toEqual([]);
  });
});
