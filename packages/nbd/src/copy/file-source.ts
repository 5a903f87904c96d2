import { BpError } from '@bp/api/errors';
import { closeFd, fileError, fstat, openFd, readFully } from './fd-io.js';
import type { CopySource } from './source.js';

/** A copy source that owns an fd; close it when done. */
export interface FileSource extends CopySource {
  discardBatch?: number;
  close(): Promise<void>;
}

/** Options of {@link createFileSource}. */
export interface FileSourceOptions {
  /** Size to expose (default: the file's size; required for block devices). */
  size?: number;
  /** Offer `discard` by punching holes (`fallocate --punch-hole --keep-size`); opens read-write. */
  discard?: boolean;
}

/**
 * A file, block device or fd as a copy source (for example the nbdfuse file of the
 * file-handle mechanism). Discard punches a hole, which nbdfuse turns into an NBD TRIM.
 */
export async function createFileSource(file: string | number, options: FileSourceOptions = {}): Promise<FileSource> {
  const name = typeof file === 'number' ? `fd ${file}` : file;
  let handle: { fd: number; owned: boolean };
  try {
    handle = await openFd(file, options.discard ? 'r+' : 'r');
  } catch (error) {
    throw fileError('BP_NOT_FOUND', `Opening the copy source ${name}`, error);
  }
  const { fd, owned } = handle;
  const size = options.size ?? (await fstat(fd)).size;
  // /proc/self/fd works for both an adopted fd and a path opened here.
  const procPath = `/proc/${process.pid}/fd/${fd}`;
  const source: FileSource = {
    size,
    read: (offset, length, buffer) => readFully(fd, buffer, length, offset, `The copy source ${name}`),
    async close() {
      if (owned) await closeFd(fd);
    },
  };
  if (options.discard) {
    // Each hole punch is a process; gather copied pieces into large ranges first.
    source.discardBatch = 64 * 1024 * 1024;
    source.discard = async (offset, length) => {
      // Loaded on first use: most copies never discard a file.
      const { execa } = await import('execa');
      const result = await execa('fallocate', ['--punch-hole', '--keep-size', '--offset', String(offset), '--length', String(length), procPath], { reject: false });
      if (result.exitCode !== 0) {
        throw new BpError('BP_NOT_SUPPORTED', `Punching a hole in ${name} failed: ${result.stderr.trim() || `exit ${result.exitCode}`}.`);
      }
    };
  }
  return source;
}
