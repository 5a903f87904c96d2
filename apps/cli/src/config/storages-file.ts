import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { BpError, isValidStorageId, parseWithSchema } from '@bp/api';
import { z } from 'zod';

const storageEntrySchema = z
  .object({
    /** Storage ID as in PVE's storage.cfg. */
    id: z.string().refine(isValidStorageId, { message: 'must be a PVE storage ID (letters, digits, - _ ., starting with a letter)' }),
    /** Plugin type, e.g. the directory example's. */
    type: z.string().min(1),
  })
  // The remaining keys are the plugin's config, validated by the plugin's own schema on use.
  .catchall(z.unknown());

const storagesFileSchema = z
  .strictObject({
    /** Storage used when `--storage` is absent (default: the embedded `local`). */
    default: z.string().optional(),
    storages: z.array(storageEntrySchema).default([]),
  })
  .refine((file) => new Set(file.storages.map((entry) => entry.id)).size === file.storages.length, {
    message: 'storage IDs must be unique',
    path: ['storages'],
  });

/** One entry of the storages file: `{ id, type, ...config }` (config keys in PVE spelling). */
export type StorageFileEntry = z.output<typeof storageEntrySchema>;
/** The storages file (`storages.json`). */
export type StoragesFile = z.output<typeof storagesFileSchema>;

/** Reads and validates the storages file; a missing file is an empty one. */
export async function readStoragesFile(path: string): Promise<StoragesFile> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return { storages: [] };
    throw new BpError('BP_INVALID_CONFIG', `cannot read ${path}: ${(error as Error).message}; check its permissions`, { cause: error });
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new BpError('BP_INVALID_CONFIG', `${path} is not valid JSON (${(error as Error).message}); fix it or remove it to start over`, {
      cause: error,
      details: { path },
    });
  }
  return parseWithSchema(storagesFileSchema, json, `storages file ${path}`);
}

/** Writes the storages file atomically (temporary file + rename), creating its directory. */
export async function writeStoragesFile(path: string, file: StoragesFile): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const temporary = `${path}.${process.pid}.tmp`;
  await writeFile(temporary, `${JSON.stringify(file, null, 2)}\n`, { mode: 0o600 });
  await rename(temporary, path);
}
