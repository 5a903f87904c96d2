import { constants } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { DIRECT_IO_ALIGNMENT, isDirectIoReady } from './aligned-memory.js';
import { writeAll } from './write-all.js';

/** Bytes that took each path; read by benchmarks and tests. */
export interface WritePathStats {
  directBytes: number;
  bufferedBytes: number;
}

/**
 * Writes to one file through two descriptors: page-aligned data goes through an O_DIRECT
 * descriptor (no copy into the page cache and no big write-back at the final fdatasync, as
 * `qemu-img convert -t none` does), everything else (headers, tables, partial clusters) through
 * the ordinary one. Both refer to the same inode, so one fdatasync on the ordinary descriptor makes
 * both durable. Where the file system refuses O_DIRECT (tmpfs, some FUSE mounts), every write is
 * buffered.
 */
export class DirectWrites {
  readonly stats: WritePathStats = { directBytes: 0, bufferedBytes: 0 };

  private constructor(
    private readonly buffered: FileHandle,
    private direct: FileHandle | undefined,
  ) {}

  /** Opens the O_DIRECT descriptor of `path` beside `buffered` (already open on the same file). */
  static async open(path: string, buffered: FileHandle): Promise<DirectWrites> {
    const direct = await open(path, constants.O_WRONLY | constants.O_DIRECT).catch(() => undefined);
    return new DirectWrites(buffered, direct);
  }

  /** pwritev of `buffers` at `position`, direct where every piece is aligned. */
  async write(buffers: Uint8Array[], position: number): Promise<void> {
    const length = buffers.reduce((sum, buffer) => sum + buffer.length, 0);
    if (this.direct && position % DIRECT_IO_ALIGNMENT === 0 && buffers.every(isDirectIoReady)) {
      try {
        await writeAll(this.direct, buffers, position);
        this.stats.directBytes += length;
        return;
      } catch (error) {
        // A file system that opens with O_DIRECT but refuses the write: go buffered from now on.
        if ((error as NodeJS.ErrnoException).code !== 'EINVAL') throw error;
        await this.closeDirect();
      }
    }
    await writeAll(this.buffered, buffers, position);
    this.stats.bufferedBytes += length;
  }

  /** Closes the O_DIRECT descriptor (the ordinary one belongs to the caller). */
  async closeDirect(): Promise<void> {
    const direct = this.direct;
    this.direct = undefined;
    await direct?.close();
  }
}
