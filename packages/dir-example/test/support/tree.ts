import { mkdir, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { execa } from 'execa';

/** A small container root: files, a symlink, a sparse file, an xattr, and paths vzdump excludes. */
export async function createContainerTree(root: string): Promise<void> {
  for (const dir of ['etc', 'sbin', 'srv/data', 'tmp', 'var/run', 'var/log', 'lost+found']) await mkdir(join(root, dir), { recursive: true });
  await writeFile(join(root, 'etc/hostname'), 'ct200\n');
  await writeFile(join(root, 'srv/data/blob.bin'), Buffer.alloc(300_000, 7));
  await writeFile(join(root, 'var/log/app.log'), 'line\n'.repeat(1000));
  await symlink('../etc/hostname', join(root, 'sbin/link'));
  await execa('truncate', ['-s', '10M', join(root, 'srv/data/sparse.img')]);
  await execa('setfattr', ['-n', 'user.bp', '-v', 'yes', join(root, 'etc/hostname')]);
  await writeFile(join(root, 'tmp/scratch'), 'temp');
  await writeFile(join(root, 'var/run/daemon.pid'), '42');
  await writeFile(join(root, 'var/log/skip.me'), 'excluded');
}

/** Exclusions used with {@link createContainerTree}: the standard ones plus an unanchored pattern. */
export const TREE_EXCLUDES = ['/tmp/?*', '/var/tmp/?*', '/var/run/?*.pid', '*.me'];

/** Deletes what {@link TREE_EXCLUDES} excludes, so the tree becomes what a restore should produce. */
export async function expectedTree(root: string): Promise<void> {
  await execa('rm', ['-rf', join(root, 'tmp/scratch'), join(root, 'var/run/daemon.pid'), join(root, 'var/log/skip.me'), join(root, 'lost+found')]);
}

/** True when two trees are identical (contents, symlinks, modes via `diff -r` and a metadata listing). */
export async function treesEqual(a: string, b: string): Promise<boolean> {
  const diff = await execa('diff', ['-r', '--no-dereference', a, b], { reject: false });
  if (diff.exitCode !== 0) return false;
  // Directory sizes depend on the file system; compare them by mode and owner only.
  const listing = async (root: string): Promise<string> =>
    (await execa('find', ['.', '-type', 'd', '-printf', '%p %M %U %G\\n', '-o', '-printf', '%p %M %U %G %s %l\\n'], { cwd: root })).stdout.split('\n').sort().join('\n');
  return (await listing(a)) === (await listing(b));
}
