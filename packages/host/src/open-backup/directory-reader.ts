import { lstat, readdir, readlink } from 'node:fs/promises';
import { join } from 'node:path';
import { BpError } from '@bp/api';
import { execa, type ExecaError } from 'execa';
import { resolveInside, type FileEntry, type Lookup, type TreeReader } from './file-entry.js';

/** tar flags that carry every piece of metadata across a copy: numeric owners, modes, ACLs, all xattrs, holes. */
export const METADATA_TAR_FLAGS = ['--numeric-owner', '--acls', '--xattrs', '--xattrs-include=*', '--sparse'] as const;

function typeOf(info: Awaited<ReturnType<typeof lstat>>): FileEntry['type'] {
  if (info.isFile()) return 'file';
  if (info.isDirectory()) return 'directory';
  if (info.isSymbolicLink()) return 'symlink';
  if (info.isFIFO()) return 'fifo';
  if (info.isSocket()) return 'socket';
  if (info.isCharacterDevice()) return 'char-device';
  if (info.isBlockDevice()) return 'block-device';
  return 'other';
}

/** The entry of one path (never followed). */
export async function entryOf(path: string, name: string): Promise<FileEntry> {
  const info = await lstat(path);
  const type = typeOf(info);
  return {
    name,
    type,
    mode: Number(info.mode) & 0o7777,
    uid: Number(info.uid),
    gid: Number(info.gid),
    size: Number(info.size),
    mtime: info.mtime.toISOString(),
    ...(type === 'symlink' ? { target: await readlink(path) } : {}),
  };
}

/** Runs `tar -c` in `sourceDir` for `name` piped into `tar -x` in `targetDir`, keeping all metadata. */
export async function copyWithTar(sourceDir: string, name: string, targetDir: string, signal?: AbortSignal): Promise<void> {
  const options = signal ? { cancelSignal: signal } : {};
  try {
    // `--` ends the options: a name starting with '-' is still a name.
    await execa('tar', ['-C', sourceDir, '-cf', '-', ...METADATA_TAR_FLAGS, '--', name], { ...options, stdin: 'ignore' })
      .pipe('tar', ['-C', targetDir, '-xpf', '-', '--same-owner', ...METADATA_TAR_FLAGS], options);
  } catch (error) {
    const failure = error as Partial<ExecaError>;
    if (failure.isCanceled) throw new BpError('BP_ABORTED', `copying ${name} was aborted`, { cause: error });
    const stderr = typeof failure.stderr === 'string' ? failure.stderr.trim() : '';
    throw new BpError('BP_RESTORE_FAILED', `copying ${name} out of the backup failed: ${stderr || String(error)}`, { cause: error });
  }
}

/** A tree that is a mounted (read-only) directory. */
export class DirectoryReader implements TreeReader {
  constructor(readonly root: string) {}

  private readonly lookup = async (segments: string[]): Promise<Lookup> => {
    try {
      const info = await lstat(join(this.root, ...segments));
      if (info.isSymbolicLink()) return { kind: 'symlink', target: await readlink(join(this.root, ...segments)) };
      return { kind: info.isDirectory() ? 'directory' : 'other' };
    } catch {
      return undefined;
    }
  };

  async list(segments: readonly string[]): Promise<FileEntry[]> {
    const shown = `/${segments.join('/')}`;
    const resolved = await resolveInside(segments, this.lookup, true, shown);
    const dir = join(this.root, ...resolved);
    if (!(await lstat(dir)).isDirectory()) return [await entryOf(dir, segments.at(-1) ?? '/')];
    const names = (await readdir(dir)).sort();
    return Promise.all(names.map((name) => entryOf(join(dir, name), name)));
  }

  async extract(segments: readonly string[], targetDir: string, signal?: AbortSignal): Promise<void> {
    const resolved = await resolveInside(segments, this.lookup, false, `/${segments.join('/')}`);
    if (resolved.length === 0) await copyWithTar(this.root, '.', targetDir, signal);
    else await copyWithTar(join(this.root, ...resolved.slice(0, -1)), resolved.at(-1)!, targetDir, signal);
  }
}
