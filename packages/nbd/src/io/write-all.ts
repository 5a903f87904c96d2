import type { FileHandle } from 'node:fs/promises';

/** Buffers per pwritev, below Linux's IOV_MAX (1024). */
const MAX_IOV = 512;

/** pwritev of all buffers at `position`, looping over short writes and the iovec limit. */
export async function writeAll(file: FileHandle, buffers: Uint8Array[], position: number): Promise<void> {
  let pending = buffers.filter((buffer) => buffer.length > 0);
  let at = position;
  while (pending.length > 0) {
    const batch = pending.slice(0, MAX_IOV);
    const total = batch.reduce((sum, buffer) => sum + buffer.length, 0);
    const { bytesWritten } = await file.writev(batch, at);
    at += bytesWritten;
    if (bytesWritten === total) {
      pending = pending.slice(batch.length);
      continue;
    }
    // Short write: drop what was written and retry the rest.
    let skip = bytesWritten;
    const rest: Uint8Array[] = [];
    for (const buffer of pending) {
      if (skip >= buffer.length) {
        skip -= buffer.length;
        continue;
      }
      rest.push(skip > 0 ? buffer.subarray(skip) : buffer);
      skip = 0;
    }
    pending = rest;
  }
}
