import { chmodSync, chownSync, existsSync, lchownSync, lstatSync, linkSync, mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { COMMON_TAR_FLAGS } from '@bp/archive';
import { restoreContainer, runBackupJob } from '../src/index.js';
import { ctArchivePlugin } from './support/ct-archive-plugin.js';
import { checkLeaksAfterEach } from './support/leaks.js';
import { spyOnProviders } from './support/provider-spy.js';
import { snapshotTree } from './support/tree.js';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'bp-host-ct-'));
  chmodSync(dir, 0o755);
});
checkLeaksAfterEach({ beforeEach, afterEach }, () => rmSync(dir, { recursive: true, force: true }));

/** A small container root with several owners, modes, links and an xattr. */
async function buildRoot(root: string): Promise<void> {
  const file = (path: string, content: string, mode = 0o644, uid = 0, gid = 0): void => {
    writeFileSync(join(root, path), content);
    chmodSync(join(root, path), mode);
    chownSync(join(root, path), uid, gid);
  };
  for (const d of ['sbin', 'usr/bin', 'etc', 'home/user', 'var/www', 'tmp', 'dev']) mkdirSync(join(root, d), { recursive: true });
  chmodSync(join(root, 'tmp'), 0o1777);
  chownSync(join(root, 'home/user'), 1000, 1000);
  chmodSync(join(root, 'home/user'), 0o700);
  chownSync(join(root, 'var/www'), 33, 33);
  file('sbin/init', '#!/bin/sh\n', 0o755);
  file('usr/bin/sh', 'shell', 0o755);
  file('usr/bin/su', 'su', 0o4755);
  linkSync(join(root, 'usr/bin/sh'), join(root, 'usr/bin/sh2'));
  symlinkSync('usr/bin', join(root, 'bin'));
  file('etc/passwd', 'root:x:0:0::/root:/bin/sh\n');
  file('etc/shadow', 'root:*:1::::::\n', 0o640, 0, 42);
  file('home/user/.profile', 'export A=1\n', 0o600, 1000, 1000);
  file('var/www/index.html', '<html/>', 0o644, 33, 33);
  file('dev/foo', 'not restored');
  await execa('setfattr', ['-n', 'user.origin', '-v', 'test', join(root, 'etc/passwd')]);
}

async function makeBackup(
  kind: 'tar' | 'tar.zst' | 'directory',
  options: { privileged?: boolean; name?: string; build?: (root: string) => Promise<void> } = {},
): Promise<{ storePath: string; volid: string; source: string }> {
  const storePath = join(dir, 'store');
  const backupDir = join(storePath, '200', 'lxc-1700000000');
  mkdirSync(backupDir, { recursive: true });
  writeFileSync(join(backupDir, 'guest.conf'), `hostname: ct200\n${options.privileged ? '' : 'unprivileged: 1\n'}rootfs: local:subvol-200-disk-0\n`);
  writeFileSync(join(backupDir, 'firewall.conf'), '[OPTIONS]\nenable: 1\n');
  const source = kind === 'directory' ? join(backupDir, 'tree') : join(dir, 'source');
  mkdirSync(source);
  await (options.build ?? buildRoot)(source);
  if (kind !== 'directory') {
    const archive = join(backupDir, options.name ?? `archive.${kind}`);
    await execa('tar', ['cpf', archive, ...(kind === 'tar.zst' ? ['--zstd'] : []), ...COMMON_TAR_FLAGS, '-C', source, '.']);
  }
  return { storePath, volid: 'cts:backup/200/lxc-1700000000', source };
}

const withoutDevChildren = (entries: ReturnType<typeof snapshotTree>) => entries.filter((e) => !e.path.startsWith('dev/'));

describe('restoreContainer (spec 1.5)', () => {
  it('tar mechanism: PVE call order over four provider objects, tree restored with IDs shifted by 100000', async () => {
    const { storePath, volid, source } = await makeBackup('tar');
    const calls: string[] = [];
    const storage = spyOnProviders(ctArchivePlugin.open('cts', { path: storePath }), {}, calls);
    const target = join(dir, 'rootfs');
    const result = await restoreContainer({ storage, volid, targetRoot: target });
    expect(calls).toEqual([
      'new',
      '#1.archiveGetGuestConfig',
      'new',
      '#2.restoreGetMechanism',
      '#2.restoreContainerInit',
      '#2.restoreContainerCleanup',
      'new',
      'new',
      '#4.archiveGetGuestConfig',
      '#3.archiveGetFirewallConfig',
    ]);
    expect(result).toMatchObject({ mechanism: 'tar', firewallConfig: '[OPTIONS]\nenable: 1\n', config: expect.stringContaining('unprivileged: 1') });
    const restored = snapshotTree(target, { uid: 100000, gid: 100000 });
    expect(restored).toEqual(withoutDevChildren(snapshotTree(source)));
    expect(restored.find((e) => e.path === 'home/user')).toMatchObject({ uid: 1000, gid: 1000, mode: '700' });
    expect(readdirSync(join(target, 'dev'))).toEqual([]);
  });

  it('directory mechanism with a custom shift, compressed tar with a bandwidth limit', async () => {
    const { storePath, volid, source } = await makeBackup('directory');
    const storage = ctArchivePlugin.open('cts', { path: storePath });
    const target = join(dir, 'rootfs-dir');
    const result = await restoreContainer({ storage, volid, targetRoot: target, uidShift: 200000 });
    expect(result.mechanism).toBe('directory');
    expect(snapshotTree(target, { uid: 200000, gid: 200000 })).toEqual(withoutDevChildren(snapshotTree(source)));

    rmSync(join(dir, 'store'), { recursive: true });
    rmSync(join(dir, 'source'), { recursive: true, force: true });
    const zst = await makeBackup('tar.zst');
    const target2 = join(dir, 'rootfs-zst');
    await restoreContainer({ storage: ctArchivePlugin.open('cts', { path: zst.storePath }), volid, targetRoot: target2, bwlimitKiB: 100 * 1024 });
    expect(snapshotTree(target2, { uid: 100000, gid: 100000 })).toEqual(withoutDevChildren(snapshotTree(zst.source)));
  });

  it('refuses a privileged backup unless restored as unprivileged; nothing is created', async () => {
    const { storePath, volid, source } = await makeBackup('tar', { privileged: true });
    const storage = ctArchivePlugin.open('cts', { path: storePath });
    const target = join(dir, 'rootfs');
    await expect(restoreContainer({ storage, volid, targetRoot: target })).rejects.toThrow(/refusing to restore privileged container backup/);
    expect(existsSync(target)).toBe(false);
    await restoreContainer({ storage, volid, targetRoot: target, unprivileged: true });
    expect(snapshotTree(target, { uid: 100000, gid: 100000 })).toEqual(withoutDevChildren(snapshotTree(source)));
  });

  it.each([
    ['too few members', { build: async (root: string) => mkdirSync(join(root, 'sbin')) }, /only \d+ members/],
    ['no sbin', { build: async (root: string) => { for (let i = 0; i < 12; i++) writeFileSync(join(root, `f${i}`), 'x'); } }, /has no 'sbin'/],
    ['a name that is not a tar archive', { name: 'archive.tar.rar' }, /does not look like a template archive/],
  ])('refuses an untrusted archive with %s, cleans up, leaves the target empty', async (_what, backupOptions, message) => {
    const { storePath, volid } = await makeBackup('tar', backupOptions);
    const calls: string[] = [];
    const storage = spyOnProviders(ctArchivePlugin.open('cts', { path: storePath }), {}, calls);
    const target = join(dir, 'rootfs');
    mkdirSync(target);
    const error = await restoreContainer({ storage, volid, targetRoot: target }).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'BP_ARCHIVE_UNSAFE', message: expect.stringMatching(message) });
    expect(calls.at(-1)).toBe('#2.restoreContainerCleanup');
    expect(readdirSync(target)).toEqual([]);
  });

  it('an archive cannot write outside the target: extraction runs as the mapped root', async () => {
    const outside = join(dir, 'outside');
    mkdirSync(outside, { mode: 0o755 });
    const { storePath, volid } = await makeBackup('tar', {
      build: async (root) => {
        await buildRoot(root);
        symlinkSync(outside, join(root, 'escape'));
      },
    });
    // Append a member that goes through the symlink.
    const archive = join(storePath, '200', 'lxc-1700000000', 'archive.tar');
    const extra = join(dir, 'extra');
    mkdirSync(join(extra, 'escape'), { recursive: true });
    writeFileSync(join(extra, 'escape', 'pwned'), 'x');
    await execa('tar', ['rpf', archive, '--numeric-owner', '-C', extra, './escape/pwned']);
    const target = join(dir, 'rootfs');
    const error = await restoreContainer({ storage: ctArchivePlugin.open('cts', { path: storePath }), volid, targetRoot: target, ignoreUnpackErrors: true }).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'BP_ARCHIVE_UNSAFE', message: expect.stringContaining('escape/pwned') });
    expect(readdirSync(outside)).toEqual([]);
    expect(existsSync(target)).toBe(false);

    // xz is not read by the header scanner: only PVE's checks and the user namespace stand guard.
    await execa('xz', [archive]);
    await restoreContainer({ storage: ctArchivePlugin.open('cts', { path: storePath }), volid, targetRoot: target, ignoreUnpackErrors: true });
    expect(readdirSync(outside)).toEqual([]);
    expect(existsSync(join(target, 'sbin/init'))).toBe(true);
  });

  it('round trip: backup in the container child (user namespace) + restore gives back the same host-owned tree', async () => {
    // An unprivileged container's files on the host: in-container owners shifted by 100000.
    const root = join(dir, 'ct-root');
    mkdirSync(root);
    await buildRoot(root);
    const shifted = new Set<number>(); // hard links share an inode: shift it once
    const shift = (path: string): void => {
      const st = lstatSync(path);
      if (!shifted.has(st.ino)) lchownSync(path, st.uid + 100000, st.gid + 100000);
      shifted.add(st.ino);
      if (st.isDirectory()) for (const name of readdirSync(path)) shift(join(path, name));
    };
    shift(root);
    chmodSync(dir, 0o755);
    const storePath = join(dir, 'store');
    mkdirSync(storePath);
    const storage = ctArchivePlugin.open('cts', { path: storePath });
    const job = await runBackupJob({
      storage,
      guests: [{ type: 'lxc', vmid: 300, config: 'hostname: rt\nunprivileged: 1\n', rootDirectory: root, backupUserId: 100000 }],
      options: { logDir: join(dir, 'logs') },
    });
    expect(job.guests[0]!.error).toBeUndefined();
    // The archive records in-container owners, as PVE's do.
    const [name] = readdirSync(join(storePath, '300'));
    const { stdout } = await execa('tar', ['-tvf', join(storePath, '300', name!, 'archive.tar'), '--numeric-owner', './home/user/.profile']);
    expect(stdout).toMatch(/ 1000\/1000 /);

    const target = join(dir, 'restored');
    await restoreContainer({ storage, volid: job.guests[0]!.volid!, targetRoot: target });
    expect(snapshotTree(target)).toEqual(withoutDevChildren(snapshotTree(root)));
  });

  it("a container ID map whose root is not the backup user fails the guest before prepare", async () => {
    const storePath = join(dir, 'store');
    mkdirSync(storePath);
    const job = await runBackupJob({
      storage: ctArchivePlugin.open('cts', { path: storePath }),
      guests: [{ type: 'lxc', vmid: 301, config: 'hostname: x\n', rootDirectory: dir, backupUserId: 100000, idMap: [{ type: 'u', inner: 0, outer: 200000, count: 65536 }, { type: 'g', inner: 0, outer: 200000, count: 65536 }] }],
      options: { logDir: join(dir, 'logs') },
    });
    expect(job.guests[0]!.error?.code).toBe('BP_INVALID_ARGUMENT');
    expect(statOwner(join(storePath, '301'))).toBe(0); // prepare never chowned the backup directory
  });
});

function statOwner(path: string): number {
  return lstatSync(join(path, readdirSync(path)[0]!)).uid;
}
