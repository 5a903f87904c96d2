import { createHash } from 'node:crypto';
import { open, readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { FILES, MUTABLE_FILES } from '../layout/index.js';
import { readJsonFile, writeFileAtomic } from '../util/durable-fs.js';

/** Block size of the per-block checksums: a corrupt block is reported with its offset. */
export const MANIFEST_BLOCK_SIZE = 4 * 1024 * 1024;

/** Checksums of one file. */
export interface ManifestFile {
  size: number;
  sha256: string;
  /** SHA-256 of each {@link MANIFEST_BLOCK_SIZE} block, in order. */
  blocks: string[];
}

/** `manifest.json` of a backup directory. */
export interface Manifest {
  version: 1;
  algorithm: 'sha256';
  blockSize: number;
  files: Record<string, ManifestFile>;
}

/** Hashes a file as a whole and per block. */
export async function hashFile(path: string): Promise<ManifestFile> {
  const whole = createHash('sha256');
  const blocks: string[] = [];
  const handle = await open(path, 'r');
  let size = 0;
  try {
    const buffer = Buffer.alloc(MANIFEST_BLOCK_SIZE);
    for (;;) {
      let filled = 0;
      while (filled < buffer.length) {
        const { bytesRead } = await handle.read(buffer, filled, buffer.length - filled, size + filled);
        if (bytesRead === 0) break;
        filled += bytesRead;
      }
      if (filled === 0) break;
      const block = buffer.subarray(0, filled);
      whole.update(block);
      blocks.push(createHash('sha256').update(block).digest('hex'));
      size += filled;
      if (filled < buffer.length) break;
    }
  } finally {
    await handle.close();
  }
  return { size, sha256: whole.digest('hex'), blocks };
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

/** Computes and writes the manifest of a backup directory. */
export async function writeManifest(dir: string): Promise<Manifest> {
  const manifest: Manifest = { version: 1, algorithm: 'sha256', blockSize: MANIFEST_BLOCK_SIZE, files: {} };
  for (const name of await dataFiles(dir)) manifest.files[name] = await hashFile(join(dir, name));
  await writeFileAtomic(join(dir, FILES.manifest), `${JSON.stringify(manifest)}\n`);
  return manifest;
}

/** Replaces one file's entry (after a chain merge rewrote it). */
export async function updateManifestEntry(dir: string, name: string): Promise<void> {
  const manifest = await readManifest(dir);
  if (!manifest) return;
  manifest.files[name] = await hashFile(join(dir, name));
  await writeFileAtomic(join(dir, FILES.manifest), `${JSON.stringify(manifest)}\n`);
}

/** Reads a backup's manifest, undefined when missing or malformed. */
export async function readManifest(dir: string): Promise<Manifest | undefined> {
  const manifest = await readJsonFile<Manifest>(join(dir, FILES.manifest));
  return manifest && manifest.version === 1 && typeof manifest.files === 'object' ? manifest : undefined;
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
    const actual = await hashFile(join(dir, name));
    if (actual.sha256 === expected.sha256) continue;
    if (actual.size !== expected.size) problems.push(`${name}: size ${actual.size}, expected ${expected.size}`);
    const corrupt = expected.blocks.flatMap((hash, index) => (actual.blocks[index] === hash ? [] : [index * manifest.blockSize]));
    problems.push(`${name}: checksum mismatch${corrupt.length > 0 ? ` in blocks at offsets ${corrupt.slice(0, 8).join(', ')}${corrupt.length > 8 ? ', ...' : ''}` : ''}`);
  }
  for (const name of present) if (!(name in manifest.files)) problems.push(`${name}: not in the manifest`);
  return problems;
}
