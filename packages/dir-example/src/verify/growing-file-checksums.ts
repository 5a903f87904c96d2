import { open, type FileHandle } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { hashBlock, MANIFEST_BLOCK_SIZE, readUpTo, rootHash } from './block-hashes.js';
import type { ManifestFile } from './manifest.js';

const POLL_MS = 20;

/**
 * Per-block checksums of a file another process appends to (tar writing an archive), read while
 * it grows: the bytes come back from the page cache right after they were written, and the
 * hashing runs beside the writer instead of after it. Only for files written front to back.
 */
export class GrowingFileChecksums {
  private readonly blocks: string[] = [];
  private readonly buffer = Buffer.allocUnsafe(MANIFEST_BLOCK_SIZE);
  private handle: FileHandle | undefined;
  private hashed = 0;
  private stopping = false;
  private following: Promise<void> | undefined;

  /** Starts reading `path` (it must exist) from its beginning, in the background. */
  follow(path: string): void {
    this.following ??= (async () => {
      this.handle = await open(path, 'r');
      while (!this.stopping) {
        if (!(await this.hashWholeBlocks())) await sleep(POLL_MS);
      }
    })();
  }

  /** Hashes every whole block written so far; false when there was none. */
  private async hashWholeBlocks(): Promise<boolean> {
    const handle = this.handle!;
    const size = (await handle.stat()).size;
    let any = false;
    while (size - this.hashed >= MANIFEST_BLOCK_SIZE) {
      await this.hashBlockAt(MANIFEST_BLOCK_SIZE);
      any = true;
    }
    return any;
  }

  private async hashBlockAt(length: number): Promise<void> {
    const data = await readUpTo(this.handle!, this.buffer, length, this.hashed);
    if (data.length < length) throw new Error(`file ended at ${this.hashed + data.length} bytes while it was being checksummed`);
    this.blocks.push(hashBlock(data));
    this.hashed += length;
  }

  /** Once the writer is done: hashes the rest, returns the manifest entry, closes the file. */
  async finish(): Promise<ManifestFile> {
    if (!this.following) throw new Error('finish() before follow()');
    this.stopping = true;
    try {
      await this.following;
      await this.hashWholeBlocks();
      const size = (await this.handle!.stat()).size;
      if (size > this.hashed) await this.hashBlockAt(size - this.hashed);
      return { size, blocks: [...this.blocks], root: rootHash(this.blocks) };
    } finally {
      await this.close();
    }
  }

  /** Stops following without a result (the writer failed). */
  async close(): Promise<void> {
    this.stopping = true;
    await this.following?.catch(() => undefined);
    await this.handle?.close().catch(() => undefined);
    this.handle = undefined;
  }
}
