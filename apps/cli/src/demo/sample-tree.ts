import { randomBytes } from 'node:crypto';
import { chmod, chown, lchown, link, mkdir, symlink, truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { BpError } from '@bp/api';
import { execa } from 'execa';

/** Paths of the sample tree that the demo's exclusions remove (not expected after a restore). */
export const SAMPLE_TREE_EXCLUDED = ['var/cache/apt/pkgcache.bin'] as const;

/**
 * Builds a small container-like root in `root`: config files, a random binary, a sparse file, a
 * hardlink pair, symlinks, a setuid binary, an empty directory, numeric owners 0/1000/33, a POSIX
 * access ACL and a default ACL, user.* xattrs, a `sbin` symlink (PVE's restore checks for it) and a
 * cache file that the demo excludes.
 */
export async function createSampleTree(root: string, options: { idOffset?: number } = {}): Promise<void> {
  const at = (path: string): string => join(root, path);
  // idOffset shifts every owner and ACL ID: the view of an unprivileged container's tree from the host.
  const id = (value: number): number => value + (options.idOffset ?? 0);
  for (const dir of ['etc/apt', 'home/user/.config', 'var/cache/apt', 'var/log', 'var/www/html', 'usr/bin', 'usr/sbin', 'srv/empty', 'tmp']) {
    await mkdir(at(dir), { recursive: true });
  }
  await writeFile(at('etc/hostname'), 'demo-ct\n');
  await writeFile(at('etc/apt/sources.list'), 'deb http://deb.debian.org/debian bookworm main\n');
  await writeFile(at('usr/bin/tool'), '#!/bin/sh\necho tool\n');
  await chmod(at('usr/bin/tool'), 0o4755);
  await writeFile(at('home/user/data.bin'), randomBytes(2 * 1024 * 1024));
  await link(at('home/user/data.bin'), at('home/user/data-hardlink.bin'));
  await writeFile(at('home/user/.config/settings.json'), '{"theme":"dark"}\n');
  await writeFile(at('var/log/sparse.img'), 'head');
  await truncate(at('var/log/sparse.img'), 64 * 1024 * 1024);
  await writeFile(at('var/www/html/index.html'), '<h1>demo</h1>\n');
  await writeFile(at('var/cache/apt/pkgcache.bin'), randomBytes(4096));
  // A merged-/usr layout: `sbin` is what PVE looks for to accept an archive as a container root.
  await symlink('usr/sbin', at('sbin'));
  await writeFile(at('usr/sbin/init'), '#!/bin/sh\nexec sleep infinity\n', { mode: 0o755 });
  await symlink('../etc/hostname', at('home/hostname-link'));
  await symlink('/etc/does-not-exist', at('home/dangling-link'));
  await chmod(at('tmp'), 0o1777);
  try {
    if (options.idOffset) await execa('chown', ['-hR', `${id(0)}:${id(0)}`, root]);
    for (const path of ['home/user', 'home/user/data.bin', 'home/user/.config', 'home/user/.config/settings.json']) await chown(at(path), id(1000), id(1000));
    await lchown(at('home/hostname-link'), id(1000), id(1000));
    await chown(at('var/www/html/index.html'), id(33), id(33));
    await execa('setfacl', ['-m', `u:${id(1000)}:rw,g:${id(33)}:r`, at('var/www/html/index.html')]);
    await execa('setfacl', ['-d', '-m', `u:${id(33)}:rwx`, at('var/www/html')]);
    await execa('setfattr', ['-n', 'user.origin', '-v', 'bp-demo', at('etc/hostname')]);
    await execa('setfattr', ['-n', 'user.checksum', '-v', '0xdeadbeef', at('home/user/data.bin')]);
  } catch (error) {
    throw new BpError('BP_MISSING_TOOLS', `cannot set owners, ACLs or xattrs in ${root} (${(error as Error).message.split('\n')[0]}); run as root with acl and attr installed (npm run bootstrap)`, { cause: error });
  }
}
