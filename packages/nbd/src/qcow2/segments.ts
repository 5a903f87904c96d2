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
