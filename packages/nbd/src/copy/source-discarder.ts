import { BpError } from '@bp/api/errors';
import { RangeSet } from '../extents/range-set.js';
import type { CopySource } from './source.js';

/**
 * "Discard after read": drops copied ranges on the source. Ranges are gathered to the source's
 * `discardBatch`; the first failure is reported once through `onWarning` and ends discarding.
 */
export class SourceDiscarder {
  /** Bytes discarded so far. */
  bytes = 0;
  /** True once a discard failed. */
  stopped = false;
  private readonly pending = new RangeSet();

  constructor(
    private readonly source: CopySource,
    private enabled: boolean,
    private readonly onWarning?: (warning: BpError) => void,
  ) {
    this.enabled = enabled && source.discard !== undefined;
  }

  /** Records a written range; discards merged ranges that reached the batch size. */
  async written(offset: number, length: number): Promise<void> {
    if (!this.enabled) return;
    this.pending.add(offset, offset + length);
    await this.discard(this.source.discardBatch ?? 0);
  }

  /** Discards whatever is still gathered (call once the copy succeeded). */
  async finish(): Promise<void> {
    if (this.enabled) await this.discard(0);
  }

  private async discard(minimum: number): Promise<void> {
    for (const [start, end] of this.pending.take(minimum)) {
      if (!this.enabled) return;
      try {
        await this.source.discard!(start, end - start);
        this.bytes += end - start;
      } catch (error) {
        if (!this.enabled) return;
        this.enabled = false;
        this.stopped = true;
        const reason = error instanceof Error ? error.message : String(error);
        this.onWarning?.(new BpError('BP_NBD_IO', `Discarding copied data on the source failed (${reason}); continuing without discard.`, { cause: error }));
      }
    }
  }
}
