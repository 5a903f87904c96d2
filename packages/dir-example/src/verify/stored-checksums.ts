import { lstat, mkdir, readdir, readFile, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { FILES } from '../layout/index.js';
import { writeFileAtomic } from '../util/durable-fs.js';
import type { ManifestFile } from './manifest.js';

/**
 * The checksum store of a backup directory: entries taken while its files were written, kept
 * until publication writes the manifest from them (`<dir>/.bp-checksums/<file>.json`).
 */

/** Keeps the checksums of `filePath` in its backup directory's store. */
export async function storeChecksums(filePath: string, entry: ManifestFile): Promise<void> {
  const dir = join(dirname(filePath), FILES.checksums);
  await mkdir(dir, { recursive: true, mode: 0o755 });
  await writeFileAtomic(join(dir, `${basename(filePath)}.json`), `${JSON.stringify(entry)}\n`);
}

/** Drops the stored checksums of `filePath` after something rewrote it, so publication hashes the file as it is. */
export async function forgetStoredChecksums(filePath: string): Promise<void> {
  await rm(join(dirname(filePath), FILES.checksums, `${basename(filePath)}.json`), { force: true });
}

/**
 * The stored entries of backup directory `dir` (file name -> entry) that this process's user
 * wrote: a container backup's provider may run as the container's mapped root, and what it
 * wrote gets no say in the manifest (its files are hashed again instead). Unreadable, foreign or
 * non-regular entries are skipped.
 */
export async function readStoredChecksums(dir: string): Promise<Record<string, ManifestFile>> {
  const store = join(dir, FILES.checksums);
  const known: Record<string, ManifestFile> = {};
  const uid = process.getuid?.();
  for (const name of await readdir(store).catch(() => [] as string[])) {
    if (!name.endsWith('.json')) continue;
    const path = join(store, name);
    const info = await lstat(path).catch(() => undefined);
    if (!info?.isFile() || (uid !== undefined && info.uid !== uid)) continue;
    try {
      const entry = JSON.parse(await readFile(path, 'utf8')) as ManifestFile;
      if (Array.isArray(entry.blocks) && typeof entry.size === 'number' && typeof entry.root === 'string') known[name.slice(0, -'.json'.length)] = entry;
    } catch {
      // Hashed again from the file instead.
    }
  }
  return known;
}
