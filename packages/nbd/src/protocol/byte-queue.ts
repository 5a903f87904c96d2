/**
 * A FIFO of received socket chunks. Reads take from the front without concatenating everything
 * received, so a large payload is copied once, straight into its destination.
 */
export class ByteQueue {
  private readonly chunks: Buffer[] = [];
  private head = 0;
  /** Bytes currently queued. */
  length = 0;

  push(chunk: Buffer): void {
    if (chunk.length === 0) return;
    this.chunks.push(chunk);
    this.length += chunk.length;
  }

  /**
   * Copies the unread part of the newest chunk if it is still queued. Call after consuming a
   * chunk that lives in a reused read buffer, so only the (small) leftover is copied.
   */
  ownNewest(): void {
    const last = this.chunks.length - 1;
    const chunk = this.chunks[last];
    if (chunk === undefined) return;
    const start = last === 0 ? this.head : 0;
    this.chunks[last] = Buffer.from(chunk.subarray(start));
    if (last === 0) this.head = 0;
  }

  /** Returns a copy of the next `count` bytes without consuming them. */
  peek(count: number): Buffer {
    const out = Buffer.allocUnsafe(count);
    let done = 0;
    let offset = this.head;
    for (const chunk of this.chunks) {
      if (done === count) break;
      const n = Math.min(count - done, chunk.length - offset);
      chunk.copy(out, done, offset, offset + n);
      done += n;
      offset = 0;
    }
    if (done < count) throw new RangeError(`ByteQueue.peek(${count}) with ${this.length} queued`);
    return out;
  }

  /** Removes and returns the next `count` bytes; copies only when they span several chunks. */
  take(count: number): Buffer {
    if (count > this.length) throw new RangeError(`ByteQueue.take(${count}) with ${this.length} queued`);
    const first = this.chunks[0];
    if (first !== undefined && first.length - this.head >= count) {
      const view = first.subarray(this.head, this.head + count);
      this.advance(count);
      return view;
    }
    const out = Buffer.allocUnsafe(count);
    this.copyInto(out, 0, count);
    return out;
  }

  /** Removes the next `count` bytes, copying them into `target` at `at`. */
  copyInto(target: Uint8Array, at: number, count: number): void {
    let done = 0;
    while (done < count) {
      const chunk = this.chunks[0];
      if (chunk === undefined) throw new RangeError('ByteQueue underflow');
      const n = Math.min(count - done, chunk.length - this.head);
      target.set(chunk.subarray(this.head, this.head + n), at + done);
      this.advance(n);
      done += n;
    }
  }

  /** Drops the next `count` bytes. */
  skip(count: number): void {
    let left = count;
    while (left > 0) {
      const chunk = this.chunks[0];
      if (chunk === undefined) throw new RangeError('ByteQueue underflow');
      const n = Math.min(left, chunk.length - this.head);
      this.advance(n);
      left -= n;
    }
  }

  /** Drops everything. */
  clear(): void {
    this.chunks.length = 0;
    this.head = 0;
    this.length = 0;
  }

  private advance(count: number): void {
    this.head += count;
    this.length -= count;
    const first = this.chunks[0];
    if (first !== undefined && this.head === first.length) {
      this.chunks.shift();
      this.head = 0;
    }
  }
}
