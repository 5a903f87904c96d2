import { createHash, type Hash } from 'node:crypto';
import { stat } from 'node:fs/promises';
import { hashBlock, hashFileBlocks, MANIFEST_BLOCK_SIZE, rootHash } from './block-hashes.js';
import type { ManifestFile } from './manifest.js';

interface OpenBlock {
  hash: Hash;
  /** Bytes of the block hashed so far, from its start. */
  filled: number;
}

/**
 * Per-block checksums of a file taken from the writes themselves, so the written data is not read
 * a second time. A block is hashed inline while its bytes arrive in order from its start; a block
 * written out of order, with a gap, or written again after it was hashed is marked stale and read
 * back by {@link finish}. With the direct qcow2 writer only the few blocks holding metadata
 * (header, L1/L2 tables, refcounts: written at flush) are read back.
 */
export class InlineChecksums {
  private readonly open = new Map<number, OpenBlock>();
  private readonly done = new Map<number, string>();
  private readonly stale = new Set<number>();
  /** After {@link finish}: bytes of the file hashed inline and bytes read back. */
  readonly counts = { inline: 0, reread: 0 };

  /** Sees one write: `buffers` land contiguously at `position`. Call in issue order. */
  observe(position: number, buffers: readonly Uint8Array[]): void {
    let at = position;
    for (const buffer of buffers) {
      for (let offset = 0; offset < buffer.length; ) {
        const index = Math.floor((at + offset) / MANIFEST_BLOCK_SIZE);
        const within = (at + offset) % MANIFEST_BLOCK_SIZE;
        const length = Math.min(buffer.length - offset, MANIFEST_BLOCK_SIZE - within);
        this.take(index, within, buffer.subarray(offset, offset + length));
        offset += length;
      }
      at += buffer.length;
    }
  }

  private take(index: number, within: number, piece: Uint8Array): void {
    if (this.stale.has(index)) return;
    const block = this.open.get(index) ?? (within === 0 && !this.done.has(index) ? { hash: createHash('sha256'), filled: 0 } : undefined);
    if (!block || block.filled !== within) {
      this.markStale(index);
      return;
    }
    if (block.filled === 0 && piece.length === MANIFEST_BLOCK_SIZE) {
      this.done.set(index, hashBlock(piece));
      return;
    }
    this.open.set(index, block);
    block.hash.update(piece);
    block.filled += piece.length;
    if (block.filled === MANIFEST_BLOCK_SIZE) {
      this.done.set(index, block.hash.digest('hex'));
      this.open.delete(index);
    }
  }

  private markStale(index: number): void {
    this.stale.add(index);
    this.open.delete(index);
    this.done.delete(index);
  }

  /**
   * The manifest entry of the file at `path` once every write has completed: blocks hashed inline
   * where they are complete, everything else (stale blocks, a short last block that was never
   * finished, bytes nobody announced) read back.
   */
  async finish(path: string): Promise<ManifestFile> {
    const size = (await stat(path)).size;
    const count = Math.ceil(size / MANIFEST_BLOCK_SIZE);
    const blocks: string[] = new Array<string>(count).fill('');
    const missing = new Set<number>();
    for (let index = 0; index < count; index++) {
      const blockLength = Math.min(MANIFEST_BLOCK_SIZE, size - index * MANIFEST_BLOCK_SIZE);
      const open = this.open.get(index);
      const digest = this.done.get(index) ?? (open && open.filled === blockLength ? open.hash.digest('hex') : undefined);
      if (digest === undefined || this.stale.has(index)) missing.add(index);
      else blocks[index] = digest;
    }
    let reread = 0;
    if (missing.size > 0) {
      const hashed = await hashFileBlocks(path, { only: missing });
      for (const index of missing) {
        blocks[index] = hashed.blocks[index] ?? '';
        reread += Math.min(MANIFEST_BLOCK_SIZE, size - index * MANIFEST_BLOCK_SIZE);
      }
    }
    this.counts.inline = size - reread;
    this.counts.reread = reread;
    return { size, blocks, root: rootHash(blocks) };
  }
}
