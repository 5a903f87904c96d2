import { randomBytes } from 'node:crypto';
import { constants, createWriteStream, type WriteStream } from 'node:fs';
import { access, open, rename, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { BpError } from '@bp/api';

/**
 * Writes `target` through a temporary file in the same directory (so it works for any user who
 * may write that directory, and the rename is atomic). `write` gets the temporary file as an
 * open stream: it either finishes the stream (e.g. with `pipeline`) or lets a child process
 * write to `stream.fd`. On success the file is flushed to disk and renamed, on failure removed.
 * Refuses to replace an existing target.
 */
export async function writeFileAtomically<T>(target: string, write: (stream: WriteStream & { fd: number }, temporaryPath: string) => Promise<T>): Promise<T> {
  await assertAbsent(target);
  const temporaryPath = join(dirname(target), `.${basename(target)}.partial-${randomBytes(6).toString('hex')}`);
  // Opened exclusively with owner-only rights: the archive holds the container's secrets.
  const stream = createWriteStream(temporaryPath, { flags: 'wx', mode: 0o600 });
  await new Promise<void>((resolve, reject) => stream.once('open', () => resolve()).once('error', reject)).catch((error: unknown) => {
    throw new BpError('BP_ARCHIVE_FAILED', `Cannot create a file in ${dirname(target)} (${(error as Error).message}); make the directory writable for uid ${process.getuid?.()}.`, {
      cause: error,
      details: { path: target },
    });
  });
  try {
    const result = await write(stream as WriteStream & { fd: number }, temporaryPath);
    if (!stream.writableEnded) stream.end();
    if (!stream.closed) await new Promise<void>((resolve) => stream.once('close', () => resolve()));
    const handle = await open(temporaryPath, 'r');
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
    await assertAbsent(target);
    await rename(temporaryPath, target);
    return result;
  } catch (error) {
    stream.destroy();
    await rm(temporaryPath, { force: true });
    throw error;
  }
}

async function assertAbsent(target: string): Promise<void> {
  const exists = await access(target, constants.F_OK).then(
    () => true,
    () => false,
  );
  if (exists) {
    throw new BpError('BP_ALREADY_EXISTS', `${target} already exists; remove it or choose another output path.`, { details: { path: target } });
  }
}
