import { Readable } from 'node:stream';
import { text } from 'node:stream/consumers';
import { pipeline } from 'node:stream/promises';
import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createRateLimitStream } from './rate-limit-stream.js';

describe('createRateLimitStream', () => {
  it('passes every byte through unchanged, in order', async () => {
    const input = Array.from({ length: 200 }, (_, index) => `line ${index}\n`).join('');
    const output = await text(Readable.from([Buffer.from(input)]).pipe(createRateLimitStream(64 * 1024)));
    expect(output).toBe(input);
  });

  it('holds the rate from the first byte (no initial burst)', async () => {
    // 96 KiB at 256 KiB/s: 375 ms; an initial burst of 250 ms worth would finish in ~125 ms.
    const started = performance.now();
    const output = await text(Readable.from([Buffer.alloc(96 * 1024, 1)]).pipe(createRateLimitStream(256 * 1024)));
    expect(output.length).toBe(96 * 1024);
    expect(performance.now() - started).toBeGreaterThan(300);
  });

  it('fails with the signal when aborted while waiting', async () => {
    const controller = new AbortController();
    setTimeout(() => controller.abort(new Error('stopped')), 50);
    const sink = new Writable({ write: (_chunk, _encoding, callback) => callback() });
    await expect(pipeline(Readable.from([Buffer.alloc(64 * 1024)]), createRateLimitStream(1024, { signal: controller.signal }), sink)).rejects.toThrow();
  });
});
