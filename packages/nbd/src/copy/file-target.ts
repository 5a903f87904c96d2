import { BpError } from '@bp/api/errors';
import { closeFd, fdatasync, fileError, fstat, ftruncate, openFd, writeFully } from './fd-io.js';
import type { CopyTarget } from './target.js';

/** Options of {@link createFileTarget}. */
export interface FileTargetOptions {
  /**
   * Size of the disk. A path that does not exist is created sparse at this size (and is then
   * zero-initialized); an existing file shorter than this is extended.
   */
  size?: number;
  /** Override: unwritten ranges of this existing file already read as zero. */
  zeroInitialized?: boolean;
}

const ZERO_CHUNK = Buffer.alloc(1024 * 1024);

/** A raw file, block device or open fd as a copy target. */
export async function createFileTarget(file: string | number, options: FileTargetOptions = {}): Promise<CopyTarget> {
  const name = typeof file === 'number' ? `fd ${file}` : file;
  let created = false;
  let handle: { fd: number; owned: boolean };
  try {
    if (typeof file === 'string') {
      try {
        handle = await openFd(file, 'wx');
        created = true;
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
        handle = await openFd(file, 'r+');
      }
    } else {
      handle = await openFd(file, 'r+');
    }
  } catch (error) {
    throw fileError('BP_NOT_FOUND', `Opening the copy target ${name}`, error);
  }
  const { fd, owned } = handle;
  try {
    if (options.size !== undefined) {
      const stat = await fstat(fd);
      if (stat.isFile() && stat.size < options.size) await ftruncate(fd, options.size);
    }
  } catch (error) {
    if (owned) await closeFd(fd);
    throw fileError('BP_INVALID_ARGUMENT', `Sizing the copy target ${name}`, error);
  }
  let closed = false;
  return {
    zeroInitialized: options.zeroInitialized ?? created,
    write: (offset, data) => writeFully(fd, data, offset),
    async writeZeroes(offset, length) {
      for (let at = 0; at < length; at += ZERO_CHUNK.length) {
        await writeFully(fd, ZERO_CHUNK.subarray(0, Math.min(ZERO_CHUNK.length, length - at)), offset + at);
      }
    },
    async flush() {
      if (closed) throw new BpError('BP_INVALID_ARGUMENT', `The copy target ${name} is closed.`);
      await fdatasync(fd);
    },
    async close() {
      if (closed) return;
      closed = true;
      if (owned) await closeFd(fd);
    },
  };
}
