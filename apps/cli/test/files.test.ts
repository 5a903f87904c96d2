import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { manifestDifferences, treeManifest, type TreeEntry } from '../src/demo/tree-manifest.js';
import { createGuestDisk, editDisk, manifests, type LayoutName } from './helpers/guest-disks.js';
import { mountsUnder, processesMentioning, waitFor } from './helpers/processes.js';
import { createSandbox, type BpSandbox } from './helpers/run-bp.js';

// One VM with three guest-like disks: scsi0 GPT (ext4 + FAT + xfs), scsi1 MBR (ext4 + logical
// ext4), scsi2 a bare ext4. Full backup, then two incrementals with changes in between.
const DISKS: Array<[string, LayoutName]> = [['scsi0', 'gpt'], ['scsi1', 'mbr'], ['scsi2', 'bare']];

interface Generation {
  volid: string;
  /** disk -> volume -> manifest */
  trees: Map<string, Map<string, TreeEntry[]>>;
  fat: string;
}

let bp: BpSandbox;
let work: string;
const generations: Generation[] = [];

async function populate(mount: string, generation: number): Promise<void> {
  await mkdir(join(mount, 'etc'), { recursive: true });
  await mkdir(join(mount, 'var/www'), { recursive: true });
  await writeFile(join(mount, 'etc/hosts'), `127.0.0.1 localhost # generation ${generation}\n`);
  await writeFile(join(mount, 'var/www/Grüße ü.txt'), `hello ${generation}\n`.repeat(1000 * (generation + 1)));
  await writeFile(join(mount, 'var/www/secret'), 'mode and owner\n', { mode: 0o640 });
  await execa('chown', ['1234:2345', join(mount, 'var/www/secret')]);
  await execa('setfacl', ['-m', `u:100${generation}:rw`, join(mount, 'var/www/secret')]);
  await execa('setfattr', ['-n', 'user.note', '-v', `gen${generation}`, join(mount, 'etc/hosts')]);
  if (generation === 0) {
    await execa('ln', ['-s', '/etc/hosts', join(mount, 'etc/link')]);
    await execa('ln', ['-s', '/var', join(mount, 'srv')]);
    // A hostile-looking link: resolved inside the filesystem it points to its own /etc.
    await execa('ln', ['-s', '../../../../../etc', join(mount, 'escape')]);
    await writeFile(join(mount, 'etc/old'), 'removed in generation 1\n');
  }
  if (generation === 1) await rm(join(mount, 'etc/old'));
  if (generation === 2) await writeFile(join(mount, 'etc/new'), 'added in generation 2\n');
}

async function backupGeneration(generation: number): Promise<void> {
  const trees = new Map<string, Map<string, TreeEntry[]>>();
  const fat = `boot loader config ${generation}\n`;
  for (const [device, layout] of DISKS) {
    const image = join(work, `${device}.qcow2`);
    if (generation === 0) await createGuestDisk(image, layout, work);
    await editDisk(image, layout, work, async (volumes) => {
      for (const entry of volumes.values()) {
        if (entry.mount) await populate(entry.mount, generation);
        if (entry.mtoolsImage) {
          const source = join(work, 'boot.txt');
          await writeFile(source, fat);
          await execa('mmd', ['-D', 's', '-i', entry.mtoolsImage, '::/EFI'], { env: { MTOOLS_SKIP_CHECK: '1' }, reject: false });
          await execa('mcopy', ['-o', '-m', '-i', entry.mtoolsImage, source, '::/EFI/boot.txt'], { env: { MTOOLS_SKIP_CHECK: '1' } });
        }
      }
      trees.set(device, await manifests(volumes));
    });
  }
  const disks = DISKS.flatMap(([device]) => ['--disk', `${device}=${join(work, `${device}.qcow2`)}`]);
  // Archive names carry the start second.
  await new Promise((resolve) => setTimeout(resolve, 1100));
  const result = await bp.json<{ volid: string; mode: string }>(['backup', 'vm', '100', ...disks, '--mode', 'incremental']);
  generations.push({ volid: result.volid, trees, fat });
}

beforeAll(async () => {
  bp = await createSandbox();
  work = join(bp.root, 'work');
  await mkdir(work);
  for (const generation of [0, 1, 2]) await backupGeneration(generation);
}, 420_000);
afterAll(async () => {
  await bp?.dispose();
});

async function restoredTree(dir: string): Promise<TreeEntry[]> {
  return treeManifest(dir);
}

describe('bp files and bp restore --path on VM disks', () => {
  it.each([0, 1, 2])('lists and restores generation %i byte-identical with owners, modes, xattrs and ACLs', async (index) => {
    const generation = generations[index]!;
    const top = await bp.json<{ partitionTable: string; entries: Array<{ name: string; target: string }> }>(['files', generation.volid, '/', '--disk', 'scsi0']);
    expect(top.partitionTable).toBe('gpt');
    expect(top.entries.map((entry) => [entry.name, entry.target])).toEqual([['part1', 'ext4'], ['part2', 'vfat'], ['part3', 'xfs']]);
    const etc = await bp.json<{ entries: Array<{ name: string }> }>(['files', generation.volid, '/part3/etc', '--disk', 'scsi0']);
    expect(etc.entries.map((entry) => entry.name)).toEqual(index === 0 ? ['hosts', 'link', 'old'] : index === 1 ? ['hosts', 'link'] : ['hosts', 'link', 'new']);

    for (const [device, layout] of DISKS) {
      const target = join(bp.root, `restore-${index}-${device}`);
      const volumes = [...generation.trees.get(device)!.keys()];
      const paths = layout === 'bare' ? ['/etc', '/var'] : [...volumes.map((volume) => `/${volume}`), ...(layout === 'gpt' ? ['/part2/EFI'] : [])];
      const result = await bp.run(['restore', generation.volid, '--disk', device, ...paths.flatMap((path) => ['--path', path]), '--to', target]);
      expect(result.stderr).toBe('');
      expect(result.exitCode).toBe(0);
      for (const [volume, expected] of generation.trees.get(device)!) {
        if (layout === 'bare') {
          const inScope = (entry: TreeEntry): boolean => /^(etc|var)(\/|$)/.test(entry.path);
          expect(manifestDifferences(expected.filter(inScope), await restoredTree(target))).toEqual([]);
        } else {
          expect(manifestDifferences(expected, await restoredTree(join(target, volume)))).toEqual([]);
        }
      }
      // FAT, read in userspace: the bytes kept.
      if (layout === 'gpt') expect(await readFile(join(target, 'part2/EFI/boot.txt'), 'utf8')).toBe(generation.fat);
      await rm(target, { recursive: true, force: true });
    }
  });

  it('resolves symlinks inside the backup only', async () => {
    const { volid } = generations[0]!;
    // /srv -> /var (absolute): the restore reads the backup's /var/www, never the host's.
    const target = join(bp.root, 'links');
    expect((await bp.run(['restore', volid, '--disk', 'scsi1', '--path', '/part5/srv/www', '--path', '/part5/etc/link', '--to', target])).exitCode).toBe(0);
    expect((await readdir(join(target, 'part5/srv/www'))).sort()).toEqual(['Grüße ü.txt', 'secret']);
    expect(await execa('readlink', [join(target, 'part5/etc/link')]).then((r) => r.stdout)).toBe('/etc/hosts');
    const escaped = await bp.json<{ entries: Array<{ name: string }> }>(['files', volid, '/part1/escape', '--disk', 'scsi1']);
    expect(escaped.entries.map((entry) => entry.name)).toEqual(['hosts', 'link', 'old']);
    // Like `ls -lL`: the link's name, the entry it resolves to inside the backup.
    const viaLink = await bp.json<{ entries: Array<{ name: string; type: string; size: number }> }>(['files', volid, '/etc/link', '--disk', 'scsi2']);
    expect(viaLink.entries.map((entry) => [entry.name, entry.type, entry.size])).toEqual([['link', 'file', '127.0.0.1 localhost # generation 0\n'.length]]);
    await rm(target, { recursive: true, force: true });
  });

  it('refuses a missing path with BP_NOT_FOUND and leaves no target behind', async () => {
    const target = join(bp.root, 'missing');
    const result = await bp.run(['restore', generations[2]!.volid, '--disk', 'scsi2', '--path', '/etc/nope', '--to', target]);
    expect(result.stderr).toContain('BP_NOT_FOUND');
    await expect(readdir(target)).rejects.toThrow();
    expect(await processesMentioning(bp.root)).toEqual([]);
    expect(await mountsUnder(bp.root)).toEqual([]);
  });
});

describe('bp mount / bp umount', () => {
  it('mounts every partition read-only and unmounts, also after the mounting process was killed', async () => {
    const dir = join(bp.root, 'mnt');
    const mounted = await bp.json<{ mounted: Array<{ path: string; fsType: string }>; skipped: Array<{ volume: string }> }>(['mount', generations[1]!.volid, dir]);
    const relative = mounted.mounted.map((entry) => [entry.path.slice(dir.length + 1), entry.fsType]);
    expect(relative).toEqual(expect.arrayContaining([['scsi0/part1', 'ext4'], ['scsi0/part3', 'xfs'], ['scsi1/part1', 'ext4'], ['scsi1/part5', 'ext4'], ['scsi2', 'ext4']]));
    expect(await readFile(join(dir, 'scsi2/etc/hosts'), 'utf8')).toContain('generation 1');
    const options = (await readFile('/proc/mounts', 'utf8')).split('\n').filter((line) => line.includes(`${dir}/scsi0/part1 `))[0]!;
    expect(options).toMatch(/\bro\b.*nosuid.*nodev.*noexec/);
    await expect(writeFile(join(dir, 'scsi2/etc/hosts'), 'x')).rejects.toThrow();
    expect((await bp.run(['umount', dir])).exitCode).toBe(0);
    expect(await mountsUnder(dir)).toEqual([]);
    await expect(readdir(dir)).rejects.toThrow();

    const child = bp.spawn(['mount', generations[2]!.volid, dir]);
    expect(await waitFor(async () => (await mountsUnder(dir)).length > 0, 60_000, 20)).toBe(true);
    child.kill('SIGKILL');
    await child;
    expect((await bp.run(['umount', dir])).exitCode).toBe(0);
    expect(await mountsUnder(bp.root)).toEqual([]);
    expect(await processesMentioning(bp.tmp)).toEqual([]);
  });
});

describe('bp serve', () => {
  it('serves a generation that reads back equal to its restore; Ctrl-C stops it cleanly', async () => {
    const { volid } = generations[1]!;
    const restored = join(bp.root, 'full-restore');
    expect((await bp.run(['restore', volid, '--to', restored])).exitCode).toBe(0);
    const socket = join(bp.root, 'serve.sock');
    const child = bp.spawn(['serve', volid, '--disk', 'scsi0', '--socket', socket]);
    let output = '';
    child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
    expect(await waitFor(async () => output.includes('Ctrl-C'), 60_000, 50)).toBe(true);
    const uri = /(nbd\+unix:\S+)/.exec(output)![1]!;
    await execa('qemu-img', ['compare', '-f', 'raw', uri, join(restored, 'scsi0.qcow2')]);
    child.kill('SIGINT');
    const result = await child;
    expect(result.exitCode).toBe(0);
    expect(await processesMentioning(bp.tmp)).toEqual([]);
    await rm(restored, { recursive: true, force: true });
  });

  it('--writable keeps the backup untouched (verify clean) and a killed serve is released by the next command', async () => {
    const { volid } = generations[2]!;
    const overlay = join(bp.root, 'overlay.qcow2');
    const child = bp.spawn(['serve', volid, '--disk', 'scsi2', '--writable', overlay, '--json']);
    let output = '';
    child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
    expect(await waitFor(async () => output.trim().endsWith('}'), 60_000, 50)).toBe(true);
    const { exports } = JSON.parse(output) as { exports: Array<{ uri: string; writable: boolean }> };
    expect(exports[0]!.writable).toBe(true);
    await execa('qemu-io', ['-f', 'raw', '-c', 'write -P 0x5a 0 4M', exports[0]!.uri]);
    const { stdout } = await execa('qemu-io', ['-f', 'raw', '-c', 'read -P 0x5a 0 4M', exports[0]!.uri]);
    expect(stdout).not.toContain('Pattern verification failed');
    child.kill('SIGKILL');
    await child;
    expect(await processesMentioning(bp.tmp)).not.toEqual([]);
    // The next command releases what the killed serve left (its qemu-storage-daemon, the provider's view).
    expect((await bp.run(['files', volid, '/', '--disk', 'scsi2'])).exitCode).toBe(0);
    expect(await processesMentioning(bp.tmp)).toEqual([]);
    const verify = await bp.run(['verify']);
    expect(verify.stdout).toContain('3 of 3 backups verified');
    expect(verify.exitCode).toBe(0);
  });
});

describe('hostile input', () => {
  it('refuses a hostile image with BP_UNSAFE_IMAGE; a broken filesystem fails its mount and leaves nothing', async () => {
    const image = join(work, 'hostile.qcow2');
    await createGuestDisk(image, 'bare', work);
    // The group descriptors (1 KiB blocks: block 2) overwritten: blkid still sees ext4, the kernel refuses to mount it.
    await execa('qemu-io', ['-f', 'qcow2', '-c', 'write -P 0xff 2048 1024', image]);
    await new Promise((resolve) => setTimeout(resolve, 1100));
    const { volid } = await bp.json<{ volid: string }>(['backup', 'vm', '101', '--disk', `scsi0=${image}`, '--mode', 'full']);
    const broken = await bp.run(['files', volid, '/']);
    expect(broken.stderr).toContain('BP_MOUNT_FAILED');
    expect(await mountsUnder(bp.root)).toEqual([]);
    expect(await processesMentioning(bp.tmp)).toEqual([]);

    // The stored image now names a backing file outside the backup.
    const stored = (await execa('find', [bp.home, '-path', '*101*', '-name', 'drive-scsi0.qcow2'])).stdout.trim();
    await execa('qemu-img', ['create', '-q', '-f', 'qcow2', '-u', '-b', '/etc/passwd', '-F', 'raw', stored, '24M']);
    for (const args of [['files', volid, '/'], ['serve', volid], ['mount', volid, join(bp.root, 'hostile-mnt')]]) {
      const result = await bp.run(args);
      expect(result.stderr).toContain('BP_UNSAFE_IMAGE');
      expect(result.exitCode).not.toBe(0);
    }
    await expect(readdir(join(bp.root, 'hostile-mnt'))).rejects.toThrow();
    expect(await mountsUnder(bp.root)).toEqual([]);
    expect(await processesMentioning(bp.tmp)).toEqual([]);
  });
});
