import type { FileHandle } from 'node:fs/promises';

const MAX_IOV = 512;

/** One pwritev: consecutive buffers that land contiguously at `position`. */
export interface WriteSegment {
  position: number;
  length: number;
  buffers: Uint8Array[];
}

/** Appends buffers to the last segment when they continue it on disk, else starts a new one. */
export function pushSegment(segments: WriteSegment[], position: number, buffers: Uint8Array[]): void {
  const length = buffers.reduce((sum, buffer) => sum + buffer.length, 0);
  const last = segments[segments.length - 1];
  if (last && last.position + last.length === position) {
    last.buffers.push(...buffers);
    last.length += length;
  } else {
    segments.push({ position, length, buffers });
  }
}

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
