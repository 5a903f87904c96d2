import { BpError } from '@bp/api/errors';
import { allocateAligned } from '../io/aligned-memory.js';

/**
 * A fixed set of reusable buffers. `acquire` waits for a free one, so memory stays at
 * `count × size` however large the copy. The buffers are page-aligned, so a target can write
 * them with O_DIRECT.
 */
export class BufferPool {
  private readonly free: Buffer[];
  private readonly waiters: Array<(buffer: Buffer) => void> = [];

  constructor(count: number, size: number) {
    this.free = allocateAligned(count, size);
  }

  acquire(signal?: AbortSignal): Promise<Buffer> {
    const buffer = this.free.pop();
    if (buffer) return Promise.resolve(buffer);
    return new Promise((resolve, reject) => {
      const onAbort = (): void => {
        const index = this.waiters.indexOf(grant);
        if (index >= 0) this.waiters.splice(index, 1);
        reject(new BpError('BP_ABORTED', 'The copy was aborted.'));
      };
      const grant = (granted: Buffer): void => {
        signal?.removeEventListener('abort', onAbort);
        resolve(granted);
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.waiters.push(grant);
    });
  }

  release(buffer: Buffer): void {
    const waiter = this.waiters.shift();
    if (waiter) waiter(buffer);
    else this.free.push(buffer);
  }
}
