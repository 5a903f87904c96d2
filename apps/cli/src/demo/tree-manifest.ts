import { createHash } from 'node:crypto';
import { lstat, readFile, readdir, readlink } from 'node:fs/promises';
import { join } from 'node:path';
import { execa } from 'execa';

/** One entry of a tree as a restore is compared: everything an archive must keep. */
export interface TreeEntry {
  path: string;
  type: 'dir' | 'file' | 'symlink' | 'other';
  mode: number;
  uid: number;
  gid: number;
  size: number;
  links: number;
  /** sha256 of a file's bytes, a symlink's target. */
  content: string;
  /** `getfacl -cpn` (numeric IDs). */
  acl: string;
  /** `getfattr -d -m -` without the file header and the ACL xattrs. */
  xattrs: string;
  /** The first path seen with the entry's inode: hardlinks share it. */
  inode: string;
  mtime: number;
}

async function toolText(command: string, args: string[]): Promise<string> {
  const result = await execa(command, args, { reject: false });
  return result.stdout.split('\n').filter((line) => line && !line.startsWith('#')).join('\n');
}

/** Walks a tree and describes every entry, sorted by path; `exclude` drops exact relative paths. */
export async function treeManifest(root: string, options: { exclude?: readonly string[] } = {}): Promise<TreeEntry[]> {
  const entries: TreeEntry[] = [];
  const inodes = new Map<string, string>();
  const walk = async (relative: string): Promise<void> => {
    const full = join(root, relative);
    const info = await lstat(full);
    if (relative !== '' && !options.exclude?.includes(relative)) {
      const type = info.isDirectory() ? 'dir' : info.isSymbolicLink() ? 'symlink' : info.isFile() ? 'file' : 'other';
      const key = `${info.dev}:${info.ino}`;
      if (!inodes.has(key)) inodes.set(key, relative);
      entries.push({
        path: relative,
        type,
        mode: info.mode,
        uid: info.uid,
        gid: info.gid,
        size: type === 'dir' ? 0 : info.size,
        links: type === 'dir' ? 0 : info.nlink,
        content: type === 'file' ? createHash('sha256').update(await readFile(full)).digest('hex') : type === 'symlink' ? await readlink(full) : '',
        acl: type === 'symlink' ? '' : await toolText('getfacl', ['-cpn', full]),
        // ACLs are compared through getfacl above (IDs readable and shiftable), not as raw xattrs.
        xattrs: type === 'symlink' ? '' : (await toolText('getfattr', ['-hd', '-m', '-', '--absolute-names', full])).split('\n').filter((line) => !line.startsWith('system.posix_acl_')).join('\n'),
        inode: inodes.get(key) ?? relative,
        mtime: type === 'symlink' || type === 'dir' ? 0 : Math.floor(info.mtimeMs / 1000),
      });
    }
    if (info.isDirectory()) for (const name of (await readdir(full)).sort()) await walk(relative === '' ? name : `${relative}/${name}`);
  };
  await walk('');
  return entries;
}

/** The manifest a restore with an ID shift must produce: owners and named ACL entries moved by `shift`. */
export function shiftManifest(entries: readonly TreeEntry[], shift: number): TreeEntry[] {
  return entries.map((entry) => ({
    ...entry,
    uid: entry.uid + shift,
    gid: entry.gid + shift,
    acl: entry.acl.replace(/^(user|group|default:user|default:group):(\d+):/gm, (_match, kind: string, id: string) => `${kind}:${Number(id) + shift}:`),
  }));
}

/** Human-readable differences between two manifests (empty = identical). */
export function manifestDifferences(expected: readonly TreeEntry[], actual: readonly TreeEntry[]): string[] {
  const byPath = new Map(actual.map((entry) => [entry.path, entry]));
  const problems: string[] = [];
  for (const entry of expected) {
    const other = byPath.get(entry.path);
    if (!other) {
      problems.push(`${entry.path}: missing`);
      continue;
    }
    byPath.delete(entry.path);
    for (const key of Object.keys(entry) as Array<keyof TreeEntry>) {
      if (entry[key] !== other[key]) problems.push(`${entry.path}: ${key} differs (${JSON.stringify(entry[key])} != ${JSON.stringify(other[key])})`);
    }
  }
  for (const path of byPath.keys()) problems.push(`${path}: unexpected`);
  return problems;
}
