import { BpError } from '@bp/api';

/** One entry of a directory listing of a backup. */
export interface FileEntry {
  name: string;
  type: 'file' | 'directory' | 'symlink' | 'hardlink' | 'fifo' | 'socket' | 'char-device' | 'block-device' | 'other';
  /** Permission bits including set-uid/set-gid/sticky (0o7777). */
  mode: number;
  uid: number;
  gid: number;
  size: number;
  /** Modification time, ISO 8601. */
  mtime: string;
  /** A symlink's (or hard link's) target, as stored. */
  target?: string;
}

/** Reads and extracts files of one filesystem tree of a backup. */
export interface TreeReader {
  /** The entries of the directory at `segments` (symlinks resolved inside the tree), sorted by name. */
  list(segments: readonly string[], signal?: AbortSignal): Promise<FileEntry[]>;
  /**
   * Extracts the file or tree at `segments` (normalised: no `..`) into `targetDir` under its own
   * name (the whole tree when `segments` is empty), with owners, modes, times, xattrs and ACLs.
   * Intermediate symlinks are resolved inside the tree; a final symlink is restored as a symlink.
   */
  extract(segments: readonly string[], targetDir: string, signal?: AbortSignal): Promise<void>;
  close?(): Promise<void>;
}

/** What a lookup of one path inside a tree says. */
export type Lookup = { kind: 'symlink'; target: string } | { kind: 'directory' } | { kind: 'other' } | undefined;

/** Splits a path given by a user into its segments (empty and `.` dropped). */
export function pathSegments(path: string): string[] {
  return path.split('/').filter((part) => part !== '' && part !== '.');
}

const MAX_LINKS = 40;

/**
 * Resolves `segments` inside a tree as if its root were `/`: symlinks are followed with
 * absolute targets re-rooted at the tree's root and `..` stops at the root, so nothing outside
 * the tree is ever reached. The last segment is followed only when `followLast`.
 */
export async function resolveInside(segments: readonly string[], lookup: (segments: string[]) => Promise<Lookup>, followLast: boolean, shown: string): Promise<string[]> {
  let done: string[] = [];
  let pending = [...segments];
  let links = 0;
  while (pending.length > 0) {
    const part = pending.shift()!;
    if (part === '' || part === '.') continue;
    if (part === '..') {
      done.pop();
      continue;
    }
    const candidate = [...done, part];
    const found = await lookup(candidate);
    if (found === undefined) throw new BpError('BP_NOT_FOUND', `${shown} does not exist in the backup; list its directory with \`bp files\``, { details: { path: shown } });
    if (found.kind === 'symlink' && (pending.length > 0 || followLast)) {
      if (++links > MAX_LINKS) throw new BpError('BP_NOT_FOUND', `${shown}: too many levels of symbolic links`, { details: { path: shown } });
      if (found.target.startsWith('/')) done = [];
      pending = [...found.target.split('/'), ...pending];
      continue;
    }
    if (found.kind !== 'directory' && pending.length > 0) throw new BpError('BP_NOT_FOUND', `${shown}: ${candidate.join('/')} is not a directory`, { details: { path: shown } });
    done = candidate;
  }
  return done;
}
