import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSampleTree, SAMPLE_TREE_EXCLUDED } from '../src/demo/sample-tree.js';
import { manifestDifferences, shiftManifest, treeManifest } from '../src/demo/tree-manifest.js';
import type { BackupResultJson, ListJson, RestoreJson } from '../src/index.js';
import { createSandbox, type BpSandbox } from './helpers/run-bp.js';

const SHIFT = 100_000;
let bp: BpSandbox;

beforeAll(async () => {
  bp = await createSandbox();
});
afterAll(async () => {
  await bp?.dispose();
});

/** Backs up a sample tree owned by `idOffset`-shifted IDs, restores it, and returns both manifests. */
async function roundTrip(vmid: number, idOffset: number, backupArgs: string[], restoreArgs: string[]) {
  const rootfs = join(bp.root, `rootfs-${vmid}`);
  await createSampleTree(rootfs, { idOffset });
  const backup = await bp.json<BackupResultJson>(['backup', 'ct', String(vmid), '--rootfs', rootfs, '--exclude', '/var/cache/apt/*.bin', '--notes', 'ct {{vmid}}', ...backupArgs]);
  expect(backup).toMatchObject({ vmid, type: 'lxc', mode: 'tar', notes: `ct ${vmid}` });
  expect(backup.bytesCopied).toBeGreaterThan(2 * 1024 * 1024);
  const list = await bp.json<ListJson>(['list', String(vmid)]);
  expect(list.backups).toEqual([expect.objectContaining({ volid: backup.volid, type: 'lxc', vmid })]);

  const target = join(bp.root, `restored-${vmid}`);
  const restore = await bp.json<RestoreJson>(['restore', backup.volid, '--to', target, ...restoreArgs]);
  expect(restore).toMatchObject({ type: 'lxc', root: join(target, 'rootfs'), disks: [], configPath: join(target, 'guest.conf') });
  const original = await treeManifest(rootfs, { exclude: SAMPLE_TREE_EXCLUDED });
  const restored = await treeManifest(join(target, 'rootfs'));
  // The manifest sees owners, ACLs, xattrs and hardlinks: these must be in the sample for the check to mean anything.
  expect(original.find((entry) => entry.path === 'home/user/data-hardlink.bin')).toMatchObject({ links: 2, inode: 'home/user/data-hardlink.bin' });
  expect(original.find((entry) => entry.path === 'home/user/data.bin')?.inode).toBe('home/user/data-hardlink.bin');
  expect(original.find((entry) => entry.path === 'var/www/html/index.html')?.acl).toContain(`user:${idOffset + 1000}:rw-`);
  expect(original.find((entry) => entry.path === 'etc/hostname')?.xattrs).toContain('user.origin="bp-demo"');
  expect(restored.some((entry) => entry.path === 'var/cache/apt/pkgcache.bin')).toBe(false);
  return { original, restored };
}

describe('container backups', () => {
  it('backs up a privileged tree; it restores unprivileged, owners and ACLs shifted by 100000', async () => {
    const { original, restored } = await roundTrip(201, 0, [], []);
    expect(manifestDifferences(shiftManifest(original, SHIFT), restored)).toEqual([]);
    // Unshifted it must differ: the comparison can fail.
    expect(manifestDifferences(original, restored).length).toBeGreaterThan(0);
  });

  it('backs up an unprivileged tree (--uid-map) and restores it with its own ID map', async () => {
    const { original, restored } = await roundTrip(200, SHIFT, ['--uid-map', `0:${SHIFT}:65536`], []);
    expect(manifestDifferences(original, restored)).toEqual([]);
  });
});
