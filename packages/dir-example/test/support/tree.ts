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

/** `find` listing of a tree: path, mode, owner ids (shifted by `idShift`), size and link target. */
async function listing(root: string, idShift: number): Promise<string> {
  // Directory sizes depend on the file system; compare them by mode and owner only.
  const { stdout } = await execa('find', ['.', '-type', 'd', '-printf', '%p %M %U %G\\n', '-o', '-printf', '%p %M %U %G %s %l\\n'], { cwd: root });
  return stdout
    .split('\n')
    .map((line) => {
      const [path, mode, uid, gid, ...rest] = line.split(' ');
      return [path, mode, Number(uid) + idShift, Number(gid) + idShift, ...rest].join(' ');
    })
    .sort()
    .join('\n');
}

/**
 * Differences between two trees (empty = identical): contents and symlinks (`diff -r`), modes,
 * sizes and owners. `restored` owners may be shifted by `idShift` (a container's archive records
 * in-container IDs).
 */
export async function treeDifferences(expected: string, restored: string, idShift = 0): Promise<string[]> {
  const diff = await execa('diff', ['-r', '--no-dereference', expected, restored], { reject: false });
  if (diff.exitCode !== 0) return diff.stdout.split('\n');
  const want = (await listing(expected, 0)).split('\n');
  const got = new Set((await listing(restored, idShift)).split('\n'));
  const wanted = new Set(want);
  return [...want.filter((line) => !got.has(line)).map((line) => `missing: ${line}`), ...[...got].filter((line) => !wanted.has(line)).map((line) => `unexpected: ${line}`)];
}

/** True when {@link treeDifferences} finds none. */
export async function treesEqual(expected: string, restored: string, idShift = 0): Promise<boolean> {
  return (await treeDifferences(expected, restored, idShift)).length === 0;
}
