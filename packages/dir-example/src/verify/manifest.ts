import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { FILES, MUTABLE_FILES } from '../layout/index.js';
import { readJsonFile, writeFileAtomic } from '../util/durable-fs.js';
import { hashFileBlocks, MANIFEST_BLOCK_SIZE, rootHash } from './block-hashes.js';

export { MANIFEST_BLOCK_SIZE } from './block-hashes.js';

/** Checksums of one file. */
export interface ManifestFile {
  size: number;
  /** SHA-256 of each {@link MANIFEST_BLOCK_SIZE} block, in order. */
  blocks: string[];
  /** Version 2: SHA-256 over the concatenated binary block digests (see `rootHash`). */
  root?: string;
  /** Version 1: plain SHA-256 of the whole file. */
  sha256?: string;
}

/**
 * `manifest.json` of a backup directory. Version 2 (written since the checksums are taken while
 * the data streams) has `root` per file; version 1 (older backups, still verified) has `sha256`.
 */
export interface Manifest {
  version: 1 | 2;
  algorithm: 'sha256';
  blockSize: number;
  files: Record<string, ManifestFile>;
}

/** Hashes a file per block, with its version-2 root. */
export async function hashFile(path: string): Promise<ManifestFile> {
  const { size, blocks } = await hashFileBlocks(path);
  return { size, blocks, root: rootHash(blocks) };
}

/** Data files of a backup directory: everything but notes, protection, log, manifest, state. */
export async function dataFiles(dir: string): Promise<string[]> {
  const names = await readdir(dir);
  const files: string[] = [];
  for (const name of names.sort()) {
    if (MUTABLE_FILES.has(name)) continue;
    if ((await stat(join(dir, name))).isFile()) files.push(name);
  }
  return files;
}

/**
 * Computes and writes the manifest of a backup directory. `known` holds entries taken while the
 * files were written; they are used when the file still has the recorded size, every other file
 * is read and hashed here.
 */
export async function writeManifest(dir: string, known: Record<string, ManifestFile> = {}): Promise<Manifest> {
  const manifest: Manifest = { version: 2, algorithm: 'sha256', blockSize: MANIFEST_BLOCK_SIZE, files: {} };
  for (const name of await dataFiles(dir)) {
    const entry = Object.hasOwn(known, name) ? known[name] : undefined;
    const usable = entry?.root !== undefined && entry.size === (await stat(join(dir, name))).size;
    manifest.files[name] = usable ? entry : await hashFile(join(dir, name));
  }
  await writeFileAtomic(join(dir, FILES.manifest), `${JSON.stringify(manifest)}\n`);
  return manifest;
}

/** Replaces one file's entry (after a chain merge rewrote it); a version-1 manifest stays version 1. */
export async function updateManifestEntry(dir: string, name: string): Promise<void> {
  const manifest = await readManifest(dir);
  if (!manifest) return;
  const path = join(dir, name);
  if (manifest.version === 1) {
    const { size, blocks, sha256 } = await hashFileBlocks(path, { whole: true });
    manifest.files[name] = { size, sha256: sha256 ?? '', blocks };
  } else {
    manifest.files[name] = await hashFile(path);
  }
  await writeFileAtomic(join(dir, FILES.manifest), `${JSON.stringify(manifest)}\n`);
}

/** Reads a backup's manifest, undefined when missing or malformed. */
export async function readManifest(dir: string): Promise<Manifest | undefined> {
  const manifest = await readJsonFile<Manifest>(join(dir, FILES.manifest));
  const known = manifest && (manifest.version === 1 || manifest.version === 2) && manifest.blockSize === MANIFEST_BLOCK_SIZE;
  return known && typeof manifest.files === 'object' && manifest.files !== null ? manifest : undefined;
}

/** Problems of a backup directory against its manifest, one line each (empty = intact). */
export async function checkManifest(dir: string): Promise<string[]> {
  const manifest = await readManifest(dir);
  if (!manifest) return ['manifest.json is missing or unreadable'];
  const problems: string[] = [];
  const present = new Set(await dataFiles(dir).catch(() => [] as string[]));
  for (const [name, expected] of Object.entries(manifest.files)) {
    if (!present.has(name)) {
      problems.push(`${name}: missing`);
      continue;
    }
    const actual = await hashFileBlocks(join(dir, name), { whole: manifest.version === 1 });
    const blocksMatch = actual.blocks.length === expected.blocks.length && actual.blocks.every((hash, index) => hash === expected.blocks[index]);
    // Version 2: the recorded root must belong to the recorded blocks (the manifest itself is intact).
    const whole = manifest.version === 1 ? actual.sha256 === expected.sha256 : expected.root === rootHash(expected.blocks);
    if (blocksMatch && whole && actual.size === expected.size) continue;
    if (actual.size !== expected.size) problems.push(`${name}: size ${actual.size}, expected ${expected.size}`);
    const corrupt = expected.blocks.flatMap((hash, index) => (actual.blocks[index] === hash ? [] : [index * manifest.blockSize]));
    problems.push(`${name}: checksum mismatch${corrupt.length > 0 ? ` in blocks at offsets ${corrupt.slice(0, 8).join(', ')}${corrupt.length > 8 ? ', ...' : ''}` : ''}`);
  }
  for (const name of present) if (!(name in manifest.files)) problems.push(`${name}: not in the manifest`);
  return problems;
}
