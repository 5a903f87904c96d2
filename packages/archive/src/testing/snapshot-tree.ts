import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { lstat, readdir, readlink } from 'node:fs/promises';
import { join } from 'node:path';
import { execa } from 'execa';
import { compileExclusions, type CompiledExclusions } from '../exclusions/index.js';
import { parseFileBlocks } from './escaped-path.js';

/** Everything an archive round trip must keep about one entry. */
export interface EntrySnapshot {
  type: 'file' | 'directory' | 'symlink' | 'fifo' | 'character-device' | 'block-device' | 'socket';
  /** Permission and special bits (`mode & 0o7777`). */
  mode: number;
  uid: number;
  gid: number;
  /** Whole seconds. */
  mtime: number;
  size?: number;
  sha256?: string;
  linkTarget?: string;
  rdev?: number;
  /** Bytes allocated on disk (files). */
  allocated?: number;
  /** Other paths sharing this inode, sorted (files with more than one link). */
  hardlinks?: string[];
  /** `user.*` xattrs and a normalized security.capability, `name=hex`, sorted. */
  xattrs: string[];
  /** Non-trivial ACL entries as getfacl prints them numerically (`user:1001:rw-`, `default:...`). */
  acl: string[];
}

/** A tree as a map from root-relative path ('' is the root) to its snapshot. */
export type TreeSnapshot = Map<string, EntrySnapshot>;

/**
 * Walks `root` with lstat (never following symlinks) and records type, mode, owner, mtime,
 * content hash, allocation, hard-link groups, xattrs and ACLs. Paths matched by `exclude` are
 * left out (with everything below them).
 */
export async function snapshotTree(root: string, exclude?: readonly string[] | CompiledExclusions): Promise<TreeSnapshot> {
  const exclusions = exclude === undefined ? undefined : Array.isArray(exclude) ? compileExclusions(exclude) : (exclude as CompiledExclusions);
  const snapshot: TreeSnapshot = new Map();
  const inodes = new Map<string, string[]>();
  const visit = async (relative: string): Promise<void> => {
    const absolute = relative === '' ? root : join(root, relative);
    const stats = await lstat(absolute);
    const entry: EntrySnapshot = {
      type: entryType(stats),
      mode: stats.mode & 0o7777,
      uid: stats.uid,
      gid: stats.gid,
      mtime: Math.floor(stats.mtimeMs / 1000),
      xattrs: [],
      acl: [],
    };
    if (stats.isFile()) {
      entry.size = stats.size;
      entry.sha256 = await hashFile(absolute);
      entry.allocated = stats.blocks * 512;
      if (stats.nlink > 1) {
        const key = `${stats.dev}:${stats.ino}`;
        inodes.set(key, [...(inodes.get(key) ?? []), relative]);
        entry.hardlinks = inodes.get(key)!;
      }
    } else if (stats.isSymbolicLink()) {
      entry.linkTarget = await readlink(absolute);
    } else if (stats.isCharacterDevice() || stats.isBlockDevice()) {
      entry.rdev = stats.rdev;
    }
    snapshot.set(relative, entry);
    if (stats.isDirectory()) {
      for (const name of (await readdir(absolute)).sort()) {
        const child = relative === '' ? name : `${relative}/${name}`;
        if (!exclusions?.excludes(child)) await visit(child);
      }
    }
  };
  await visit('');
  // Hard-link groups are shared arrays; freeze them into sorted copies now that all are known.
  // A group of one (the other links lie outside this tree) is no group.
  for (const entry of snapshot.values()) {
    if (entry.hardlinks && entry.hardlinks.length > 1) entry.hardlinks = [...entry.hardlinks].sort();
    else delete entry.hardlinks;
  }
  await addXattrs(root, snapshot);
  await addAcls(root, snapshot);
  return snapshot;
}

function entryType(stats: Awaited<ReturnType<typeof lstat>>): EntrySnapshot['type'] {
  if (stats.isFile()) return 'file';
  if (stats.isDirectory()) return 'directory';
  if (stats.isSymbolicLink()) return 'symlink';
  if (stats.isFIFO()) return 'fifo';
  if (stats.isCharacterDevice()) return 'character-device';
  if (stats.isBlockDevice()) return 'block-device';
  return 'socket';
}

async function hashFile(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path, { highWaterMark: 1024 * 1024 })) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

async function addXattrs(root: string, snapshot: TreeSnapshot): Promise<void> {
  const { stdout } = await execa('getfattr', ['-R', '-h', '-d', '-e', 'hex', '--absolute-names', '-m', '^(user\\.|security\\.capability$)', root], { reject: false });
  for (const [path, lines] of parseFileBlocks(stdout, root)) {
    const entry = snapshot.get(path);
    if (!entry) continue;
    entry.xattrs = lines.map(normalizeXattr).sort();
  }
}

/** Capabilities are compared by their sets only: v3 adds the namespace root uid, which differs by design after an ID shift. */
function normalizeXattr(line: string): string {
  const [name, value = ''] = line.split(/=(.*)/s);
  if (name !== 'security.capability' || !value.startsWith('0x')) return line;
  const bytes = Buffer.from(value.slice(2), 'hex');
  const effective = (bytes.readUInt32LE(0) & 1) === 1;
  return `security.capability=sets:${bytes.subarray(4, 20).toString('hex')}${effective ? ':effective' : ''}`;
}

async function addAcls(root: string, snapshot: TreeSnapshot): Promise<void> {
  const { stdout } = await execa('getfacl', ['-R', '-P', '-n', '-p', '--skip-base', '-E', root], { reject: false });
  for (const [path, lines] of parseFileBlocks(stdout, root)) {
    const entry = snapshot.get(path);
    if (!entry) continue;
    entry.acl = lines;
  }
}
