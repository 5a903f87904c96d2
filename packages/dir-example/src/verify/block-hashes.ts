import { createHash } from 'node:crypto';
import { type FileHandle, open } from 'node:fs/promises';

/** Block size of the per-block checksums: a corrupt block is reported with its offset. */
export const MANIFEST_BLOCK_SIZE = 4 * 1024 * 1024;

/** SHA-256 of one block, hex. */
export function hashBlock(data: Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

/**
 * The checksum of a whole file in manifest version 2: SHA-256 over the concatenated binary
 * SHA-256 digests of its blocks. Unlike a plain SHA-256 of the file it can be computed from
 * blocks hashed in any order, so checksums are taken while the data is written.
 */
export function rootHash(blocks: readonly string[]): string {
  const root = createHash('sha256');
  for (const block of blocks) root.update(Buffer.from(block, 'hex'));
  return root.digest('hex');
}

/** Reads `length` bytes at `position` into `buffer`, fewer where the file ends first. */
export async function readUpTo(handle: FileHandle, buffer: Buffer, length: number, position: number): Promise<Buffer> {
  let filled = 0;
  while (filled < length) {
    const { bytesRead } = await handle.read(buffer, filled, length - filled, position + filled);
    if (bytesRead === 0) break;
    filled += bytesRead;
  }
  return buffer.subarray(0, filled);
}

/** What {@link hashFileBlocks} found. */
export interface FileBlockHashes {
  size: number;
  blocks: string[];
  /** Plain SHA-256 of the whole file, when asked for (manifest version 1). */
  sha256?: string;
}

/**
 * Hashes `[from, to)` block by block (`blocks[i]` is block `first + i`), or the whole file. The next
 * block is read while the current one is hashed. With `whole`, also the plain SHA-256 of the file.
 */
export async function hashFileBlocks(path: string, options: { whole?: boolean; only?: ReadonlySet<number> } = {}): Promise<FileBlockHashes> {
  const handle = await open(path, 'r');
  try {
    const size = (await handle.stat()).size;
    const count = Math.ceil(size / MANIFEST_BLOCK_SIZE);
    const whole = options.whole ? createHash('sha256') : undefined;
    const blocks: string[] = new Array<string>(count).fill('');
    const wanted = [...Array(count).keys()].filter((index) => !options.only || options.only.has(index));
    const buffers = [Buffer.allocUnsafe(MANIFEST_BLOCK_SIZE), Buffer.allocUnsafe(MANIFEST_BLOCK_SIZE)];
    const readBlock = (index: number, buffer: Buffer): Promise<Buffer> => {
      const start = index * MANIFEST_BLOCK_SIZE;
      return readUpTo(handle, buffer, Math.min(MANIFEST_BLOCK_SIZE, size - start), start);
    };
    let next = wanted.length > 0 ? readBlock(wanted[0]!, buffers[0]!) : undefined;
    for (let position = 0; position < wanted.length; position++) {
      const data = await next!;
      const following = wanted[position + 1];
      next = following === undefined ? undefined : readBlock(following, buffers[(position + 1) % 2]!);
      blocks[wanted[position]!] = hashBlock(data);
      whole?.update(data);
    }
    return { size, blocks, ...(whole ? { sha256: whole.digest('hex') } : {}) };
  } finally {
    await handle.close();
  }
}
