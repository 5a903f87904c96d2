import { randomUUID } from 'node:crypto';
import { link, readFile, rm, writeFile } from 'node:fs/promises';
import { BpError } from '@bp/api';
import { fsyncPath } from '../util/durable-fs.js';

const INSTANCE_ID = /^[A-Za-z0-9._-]{1,64}$/;

/**
 * Reads the storage instance ID at `path`, creating it on first use. Creation is exclusive
 * (a hard link), so two processes racing on a new storage agree on one ID.
 *
 * @throws BpError `BP_STORAGE_UNAVAILABLE` when the file is unreadable or holds no valid ID.
 */
export async function readOrCreateInstanceId(path: string): Promise<string> {
  const existing = await readInstanceId(path);
  if (existing !== undefined) return existing;
  // Written aside and hard-linked into place: the ID appears complete or not at all, and the
  // first of two racing processes wins.
  const temp = `${path}.tmp-${process.pid}-${randomUUID()}`;
  try {
    await writeFile(temp, `${randomUUID()}\n`, { mode: 0o644 });
    await fsyncPath(temp);
    await link(temp, path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') {
      throw new BpError('BP_STORAGE_UNAVAILABLE', `cannot create the storage instance ID ${path}: ${(error as Error).message}; check that the storage path is writable`, { cause: error });
    }
  } finally {
    await rm(temp, { force: true });
  }
  const created = await readInstanceId(path);
  if (created === undefined) {
    throw new BpError('BP_STORAGE_UNAVAILABLE', `the storage instance ID in ${path} is not valid; remove the file to start a new instance (the next backups are full)`);
  }
  return created;
}

async function readInstanceId(path: string): Promise<string | undefined> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new BpError('BP_STORAGE_UNAVAILABLE', `cannot read the storage instance ID ${path}: ${(error as Error).message}`, { cause: error });
  }
  const id = text.trim();
  if (!INSTANCE_ID.test(id)) throw new BpError('BP_STORAGE_UNAVAILABLE', `the storage instance ID in ${path} is not valid; remove the file to start a new instance (the next backups are full)`);
  return id;
}
