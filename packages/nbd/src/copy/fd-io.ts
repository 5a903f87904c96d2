import fs from 'node:fs';
import { promisify } from 'node:util';
import { BpError } from '@bp/api/errors';

const read = promisify(fs.read);
const write = promisify(fs.write);

/** Reads exactly `length` bytes at `position` into `buffer`, looping over short reads. */
export async function readFully(fd: number, buffer: Uint8Array, length: number, position: number, what: string): Promise<void> {
  let done = 0;
  while (done < length) {
    const { bytesRead } = await read(fd, buffer, done, length - done, position + done);
    if (bytesRead === 0) {
      throw new BpError('BP_INVALID_ARGUMENT', `${what} ends at ${position + done}, before the requested range [${position}, +${length}).`);
    }
    done += bytesRead;
  }
}

/** Writes all of `data` at `position`, looping over short writes. */
export async function writeFully(fd: number, data: Uint8Array, position: number): Promise<void> {
  let done = 0;
  while (done < data.length) {
    const { bytesWritten } = await write(fd, data, done, data.length - done, position + done);
    done += bytesWritten;
  }
}

/** Opens `path` (or adopts `fd`); `owned` says whether closing is ours. */
export async function openFd(target: string | number, flags: string, mode = 0o600): Promise<{ fd: number; owned: boolean }> {
  if (typeof target === 'number') return { fd: target, owned: false };
  return { fd: await promisify(fs.open)(target, flags, mode), owned: true };
}

export const fdatasync = promisify(fs.fdatasync);
export const fstat = promisify(fs.fstat);
export const ftruncate = promisify(fs.ftruncate);
export const closeFd = promisify(fs.close);

/** Converts an fs error into a BpError with the path and errno. */
export function fileError(code: 'BP_NOT_FOUND' | 'BP_INVALID_ARGUMENT' | 'BP_ALREADY_EXISTS' | 'BP_BACKUP_FAILED', what: string, error: unknown): BpError {
  if (BpError.isInstance(error)) return error;
  const errno = (error as NodeJS.ErrnoException).code;
  return new BpError(code, `${what} failed (${errno ?? String(error)}).`, { cause: error, details: { errno } });
}
