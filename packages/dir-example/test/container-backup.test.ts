import { cp, mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterEach, describe, expect, it } from 'vitest';
import { createTestStorage, type TestStorage } from './support/storage.js';
import { createContainerTree, expectedTree, TREE_EXCLUDES, treesEqual } from './support/tree.js';

const T0 = 1_795_000_000;

async function mounted(path: string): Promise<boolean> {
  return (await readFile('/proc/mounts', 'utf8')).includes(` ${path} `);
}

describe.each(['tar', 'squashfs'] as const)('container backups as %s', (format) => {
  let env: TestStorage | undefined;
  afterEach(async () => {
    await env?.dispose();
    env = undefined;
  });

  it('round-trips a container tree with exclusions', async () => {
    env = await createTestStorage({ 'lxc-backup-mode': format });
    const source = join(env.work, 'rootfs');
    await createContainerTree(source);
    const info = { directory: source, sources: ['./'], backupUserId: 0, firewallConfig: '' };
    const provider = env.storage.newBackupProvider(env.log);
    const { archiveName } = await provider.backupInit(200, 'lxc', T0);
    expect(await provider.backupGetMechanism(200, 'lxc')).toBe('directory');
    await provider.backupContainerPrepare(200, info);
    // backupContainer runs on a fresh instance (in PVE: a child process as the mapped root).
    await env.storage.newBackupProvider(env.log).backupContainer(200, 'arch: amd64\nunprivileged: 1\n', TREE_EXCLUDES, info);
    expect(await env.storage.listVolumes()).toEqual([]);
    const { stats } = await provider.backupCleanup(200, 'lxc', true, {});
    expect(stats?.archiveSize).toBeGreaterThan(0);
    const [volume] = await env.storage.listVolumes({ vmid: 200 });
    expect(volume).toMatchObject({ volid: `store:backup/${archiveName}`, subtype: 'lxc', ctime: T0, size: stats?.archiveSize });

    const expected = join(env.work, 'expected');
    await cp(source, expected, { recursive: true, verbatimSymlinks: true });
    await expectedTree(expected);
    const volname = `backup/${archiveName}`;
    const restorer = env.storage.newBackupProvider(env.log);
    expect(await restorer.archiveGetGuestConfig(volname)).toBe('arch: amd64\nunprivileged: 1\n');
    expect(await restorer.archiveGetFirewallConfig(volname)).toBeUndefined();
    const mechanism = await restorer.restoreGetMechanism(volname);
    expect(mechanism).toEqual({ mechanism: format === 'tar' ? 'tar' : 'directory', vmtype: 'lxc' });
    const result = await restorer.restoreContainerInit(volname, {});
    try {
      if ('tarPath' in result) {
        const target = join(env.work, 'restored');
        await mkdir(target);
        await execa('tar', ['xpf', result.tarPath, '--numeric-owner', '--acls', '--xattrs', '--xattrs-include=user.*', '-C', target]);
        expect(await treesEqual(expected, target)).toBe(true);
        expect((await execa('getfattr', ['--only-values', '-n', 'user.bp', join(target, 'etc/hostname')])).stdout).toBe('yes');
      } else {
        expect(await mounted(result.archiveDirectory)).toBe(true);
        expect(await treesEqual(expected, result.archiveDirectory)).toBe(true);
      }
    } finally {
      await restorer.restoreContainerCleanup(volname, {});
    }
    if ('archiveDirectory' in result) expect(await mounted(result.archiveDirectory)).toBe(false);

    // Two restores of one backup at once get their own views; each cleanup releases only its own.
    if (format === 'squashfs') {
      const [one, two] = [env.storage.newBackupProvider(env.log), env.storage.newBackupProvider(env.log)];
      const first = await one.restoreContainerInit(volname, {});
      const second = await two.restoreContainerInit(volname, {});
      if (!('archiveDirectory' in first) || !('archiveDirectory' in second)) throw new Error('expected directory restores');
      expect(first.archiveDirectory).not.toBe(second.archiveDirectory);
      await one.restoreContainerCleanup(volname, {});
      expect(await treesEqual(expected, second.archiveDirectory)).toBe(true);
      await two.restoreContainerCleanup(volname, {});
      expect([await mounted(first.archiveDirectory), await mounted(second.archiveDirectory)]).toEqual([false, false]);
    }
    expect((await env.storage.verify(volname))[0]?.ok).toBe(true);
  });
});

describe.each(['tar', 'squashfs'] as const)('container bandwidth limit as %s', (format) => {
  let env: TestStorage | undefined;
  afterEach(async () => {
    await env?.dispose();
    env = undefined;
  });

  // Only the lower bound is checked: a slow machine can make the backup slower, never faster.
  it('reads the tree no faster than the limit, and only the listed sources', async () => {
    env = await createTestStorage({ 'lxc-backup-mode': format });
    const source = join(env.work, 'rootfs');
    await mkdir(join(source, 'data'), { recursive: true });
    await mkdir(join(source, 'other'), { recursive: true });
    const { randomBytes } = await import('node:crypto');
    const { writeFile } = await import('node:fs/promises');
    await writeFile(join(source, 'data', 'blob'), randomBytes(6 * 1024 * 1024));
    await writeFile(join(source, 'other', 'not-listed'), 'outside the sources\n');
    const limit = 2 * 1024 * 1024;
    const info = { directory: source, sources: ['./data'], backupUserId: 0, firewallConfig: '', bandwidthLimit: limit };
    const provider = env.storage.newBackupProvider(env.log);
    const { archiveName } = await provider.backupInit(201, 'lxc', T0);
    await provider.backupContainerPrepare(201, info);
    const started = performance.now();
    await env.storage.newBackupProvider(env.log).backupContainer(201, 'arch: amd64\n', [], info);
    const seconds = (performance.now() - started) / 1000;
    await provider.backupCleanup(201, 'lxc', true, {});
    // 6 MiB at 2 MiB/s: at least ~2 s after a burst allowance of one second's worth.
    expect(seconds).toBeGreaterThan(2);

    const volname = `backup/${archiveName}`;
    const restorer = env.storage.newBackupProvider(env.log);
    const result = await restorer.restoreContainerInit(volname, {});
    try {
      const root = 'tarPath' in result ? join(env.work, 'restored') : result.archiveDirectory;
      if ('tarPath' in result) {
        await mkdir(root);
        await execa('tar', ['xpf', result.tarPath, '-C', root]);
      }
      const { readdir } = await import('node:fs/promises');
      expect((await readdir(root)).sort()).toEqual(['data']);
      expect((await readFile(join(root, 'data', 'blob'))).length).toBe(6 * 1024 * 1024);
    } finally {
      await restorer.restoreContainerCleanup(volname, {});
    }
  });
});
