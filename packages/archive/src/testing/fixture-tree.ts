import { chmod, link, lchown, lutimes, mkdir, open, symlink, utimes, writeFile } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { dirname, join } from 'node:path';
import { execa } from 'execa';

/** Options of {@link createFixtureTree}. */
export interface FixtureTreeOptions {
  /** Apparent size of the sparse file; default 1 GiB (only a few KiB are allocated). */
  sparseSize?: number;
  /** Added to every uid/gid (owners and ACL entries), e.g. 100000 for an unprivileged container's tree. */
  idOffset?: number;
  /** Create device nodes (needs mknod permission); default true. Failures are reported in `skipped`. */
  devices?: boolean;
}

/** What {@link createFixtureTree} built. */
export interface FixtureTree {
  root: string;
  /** Features that could not be created here, with the reason (e.g. "device nodes: mknod: Operation not permitted"). */
  skipped: string[];
  /** Paths (relative) of notable entries, for targeted assertions. */
  paths: {
    sparse: string;
    hardlinks: readonly string[];
    devices: readonly string[];
    excludedByStandard: readonly string[];
    lostAndFound: string;
  };
}

/** The fixed mtime of every fixture entry (2024-01-02T03:04:05Z). */
export const FIXTURE_MTIME = new Date('2024-01-02T03:04:05Z');

// security.capability v2 granting cap_net_raw (permitted + effective).
const CAP_NET_RAW_V2 = '0x0100000200200000000000000000000000000000';

/**
 * Builds a container-like tree in `dir` (created if missing) with everything an archive must
 * keep: regular and random files, a sparse file, hard links, symlinks (relative, absolute,
 * dangling), a fifo, device nodes, setuid/setgid/sticky bits, numeric owners other than 0,
 * POSIX access and default ACLs, user.* and security.capability xattrs, long and unicode names,
 * empty directories, plus entries the standard exclusions and `lost+found` rule remove. All
 * mtimes are {@link FIXTURE_MTIME}. Owners need root; device nodes need mknod permission.
 */
export async function createFixtureTree(dir: string, options: FixtureTreeOptions = {}): Promise<FixtureTree> {
  const offset = options.idOffset ?? 0;
  const id = (value: number): number => value + offset;
  const skipped: string[] = [];
  const at = (path: string): string => join(dir, path);
  const file = async (path: string, content: string | Buffer, mode = 0o644): Promise<void> => {
    await mkdir(dirname(at(path)), { recursive: true });
    await writeFile(at(path), content, { mode });
    await chmod(at(path), mode);
  };
  const owner = (path: string, uid: number, gid: number): Promise<void> => lchown(at(path), id(uid), id(gid));

  await mkdir(dir, { recursive: true });
  await file('etc/hostname', 'fixture\n');
  await file('etc/shadow', 'root:*:19000:0:99999:7:::\n', 0o600);
  await file('home/user/notes.txt', 'hello from uid 1000\n');
  await file('home/user/.profile', 'export A=1\n');
  await file('data/random.bin', randomBytes(1024 * 1024 + 123));
  await file('data/empty-file', '');

  const sparseSize = options.sparseSize ?? 1024 ** 3;
  await file('data/sparse.img', 'start of sparse file\n');
  const sparse = await open(at('data/sparse.img'), 'r+');
  try {
    await sparse.write('middle\n', Math.floor(sparseSize / 2), 'utf8');
    await sparse.truncate(sparseSize);
  } finally {
    await sparse.close();
  }

  await file('data/hardlink-a', 'shared inode\n');
  await link(at('data/hardlink-a'), at('data/hardlink-b'));
  await mkdir(at('home/user/links'), { recursive: true });
  await link(at('data/hardlink-a'), at('home/user/links/hardlink-c'));

  await file('usr/bin/tool', '#!/bin/sh\necho tool\n', 0o755);
  await symlink('usr/bin', at('bin'));
  await symlink('/usr/share/zoneinfo/Nowhere', at('etc/localtime'));
  await symlink('does-not-exist', at('data/dangling'));
  await symlink('../usr/bin/tool', at('data/tool-link'));

  await mkdir(at('run'), { recursive: true });
  await execa('mkfifo', ['-m', '0640', at('run/fifo')]);

  const devices = ['devices/null', 'devices/loop7'];
  if (options.devices ?? true) {
    try {
      await mkdir(at('devices'), { recursive: true });
      await execa('mknod', ['-m', '0666', at('devices/null'), 'c', '1', '3']);
      await execa('mknod', ['-m', '0660', at('devices/loop7'), 'b', '7', '7']);
    } catch (error) {
      skipped.push(`device nodes: ${(error as { stderr?: string }).stderr || (error as Error).message}`);
    }
  } else skipped.push('device nodes: disabled by options');

  await file('usr/bin/su', 'setuid\n', 0o755);
  await chmod(at('usr/bin/su'), 0o4755);
  await file('usr/bin/wall', 'setgid\n', 0o755);
  await mkdir(at('var/shared'), { recursive: true });
  await mkdir(at('home/shared'), { recursive: true });
  await file('home/user/acl-file', 'acl\n', 0o640);
  await file('usr/bin/ping', 'caps\n', 0o755);

  await owner('home/user', 1000, 1000);
  await owner('home/user/notes.txt', 1000, 1000);
  await owner('home/user/.profile', 1000, 1001);
  await owner('home/user/acl-file', 1000, 1000);
  await owner('data/random.bin', 1001, 1002);
  await owner('data/dangling', 1002, 1003);
  await owner('run/fifo', 33, 33);
  await owner('var/shared', 0, 100);
  await owner('usr/bin/wall', 0, 5);
  for (const path of ['etc/hostname', 'etc/shadow', 'usr/bin/su', 'usr/bin/ping', 'usr/bin/tool', 'bin', '.', 'etc', 'usr', 'usr/bin', 'data', 'home', 'run', 'var', 'data/sparse.img', 'data/hardlink-a', 'data/empty-file', 'etc/localtime', 'data/tool-link', 'home/shared', 'home/user/links']) {
    await owner(path, 0, 0);
  }
  // chown clears setuid/setgid, so the special bits come last.
  await chmod(at('usr/bin/su'), 0o4755);
  await chmod(at('usr/bin/wall'), 0o2755);
  await chmod(at('var/shared'), 0o1777);

  await execa('setfacl', ['-m', `u:${id(1001)}:rw-,g:${id(1002)}:r--`, at('home/user/acl-file')]);
  await execa('setfacl', ['-m', `u:${id(1001)}:rwx`, '-m', `d:u:${id(1001)}:rwx,d:g:${id(1002)}:r-x`, at('home/shared')]);
  await execa('setfattr', ['-n', 'user.comment', '-v', 'fixture xattr', at('home/user/notes.txt')]);
  await execa('setfattr', ['-n', 'user.binary', '-v', '0x00ff10', at('data/random.bin')]);
  await execa('setfattr', ['-n', 'security.capability', '-v', CAP_NET_RAW_V2, at('usr/bin/ping')]);

  await file(`long/${'n'.repeat(200)}.txt`, 'long name\n');
  const deep = `deep/${Array.from({ length: 12 }, (_, index) => `directory-level-${index}`).join('/')}`;
  await file(`${deep}/leaf.txt`, 'deep path over 255 bytes\n');
  await file('unicode/ünïcødé-名前-😀.txt', 'unicode\n');
  await file('unicode/with space and \'quote\'', 'odd characters\n');
  await mkdir(at('empty/nested-empty'), { recursive: true });
  await mkdir(at('var/empty'), { recursive: true });

  await file('tmp/junk', 'excluded by the standard exclusions\n');
  await file('var/tmp/cache', 'excluded by the standard exclusions\n');
  await file('var/run/daemon.pid', '42\n');
  await file('var/run/keep.sock.txt', 'kept\n');
  await file('lost+found/orphan', 'always excluded\n');

  await setTimes(dir);
  return {
    root: dir,
    skipped,
    paths: {
      sparse: 'data/sparse.img',
      hardlinks: ['data/hardlink-a', 'data/hardlink-b', 'home/user/links/hardlink-c'],
      devices: skipped.some((reason) => reason.startsWith('device nodes')) ? [] : devices,
      excludedByStandard: ['tmp/junk', 'var/tmp/cache', 'var/run/daemon.pid'],
      lostAndFound: 'lost+found',
    },
  };
}

/** Sets every entry's times to FIXTURE_MTIME, children before their directory. */
async function setTimes(root: string): Promise<void> {
  const { stdout } = await execa('find', [root, '-depth', '-print0']);
  for (const path of stdout.split('\0').filter(Boolean)) {
    await lutimes(path, FIXTURE_MTIME, FIXTURE_MTIME).catch(() => utimes(path, FIXTURE_MTIME, FIXTURE_MTIME));
  }
}

