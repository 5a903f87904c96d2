// A comparable snapshot of a directory tree: type, mode, owner, size, content hash, link target,
// and user.* xattrs of every entry.
import { createHash } from 'node:crypto';
import { lstatSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';
import { execaSync } from 'execa';

export interface TreeEntry {
  path: string;
  type: string;
  mode: string;
  uid: number;
  gid: number;
  content?: string;
  link?: string;
  xattrs?: string;
}

function xattrsOf(path: string): string {
  const { stdout } = execaSync('getfattr', ['--absolute-names', '-d', '-m', '^user\\.', path], { reject: false });
  return stdout.split('\n').filter((l) => l.startsWith('user.')).sort().join(';');
}

export function snapshotTree(root: string, shift = { uid: 0, gid: 0 }): TreeEntry[] {
  const entries: TreeEntry[] = [];
  const walk = (relative: string): void => {
    for (const name of readdirSync(join(root, relative)).sort()) {
      const rel = relative === '' ? name : `${relative}/${name}`;
      const full = join(root, rel);
      const st = lstatSync(full);
      const entry: TreeEntry = {
        path: rel,
        type: st.isDirectory() ? 'dir' : st.isSymbolicLink() ? 'symlink' : st.isFile() ? 'file' : 'other',
        mode: (st.mode & 0o7777).toString(8),
        uid: st.uid - shift.uid,
        gid: st.gid - shift.gid,
      };
      if (st.isFile()) entry.content = createHash('sha256').update(readFileSync(full)).digest('hex');
      if (st.isSymbolicLink()) entry.link = readlinkSync(full);
      else {
        const xattrs = xattrsOf(full);
        if (xattrs !== '') entry.xattrs = xattrs;
      }
      entries.push(entry);
      if (st.isDirectory()) walk(rel);
    }
  };
  walk('');
  return entries;
}
