import { mkdir, open, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { execa } from 'execa';
import { join } from 'node:path';
import { BpError } from '@bp/api';
import { afterEach, describe, expect, it } from 'vitest';
import { assertVerified } from '../src/index.js';
import { hashFileBlocks, MANIFEST_BLOCK_SIZE, rootHash } from '../src/verify/block-hashes.js';
import { createTestStorage, type TestStorage } from './support/storage.js';
import { createDisk, DEVICE, guestWrites, qemuImg, restoreMatches, runVmBackup } from './support/vm-host.js';

const SIZE = 16 * 1024 * 1024;
const T0 = 1_795_000_000;
const hasCode = (code: string) => (error: unknown) => BpError.hasCode(error, code as never);

let env: TestStorage | undefined;
afterEach(async () => {
  await env?.dispose();
  env = undefined;
});

async function oneVmBackup(env: TestStorage, time: number, vmid = 100): Promise<{ volname: string; reference: string }> {
  const diskDir = join(env.work, `vm-${vmid}-${time}`);
  await mkdir(diskDir);
  const disk = await createDisk(diskDir, SIZE);
  await guestWrites(disk, SIZE, 6);
  const run = await runVmBackup({ provider: env.storage.newBackupProvider(env.log), vmid, time, disk, size: SIZE, workDir: env.work, mechanism: 'nbd' });
  return { volname: `backup/${run.archiveName}`, reference: run.reference };
}

describe('names and listing', () => {
  it('writes formatted UTC names and still lists and restores the example epoch names', async () => {
    env = await createTestStorage();
    const { volname, reference } = await oneVmBackup(env, T0);
    expect(volname).toBe('backup/100/qemu-2026-11-18T11:06:40Z');
    // A backup as the Perl example wrote it: <vmid>/qemu-<epoch>/.
    const legacy = join(env.root, '100', 'qemu-1732648708');
    await mkdir(legacy);
    await writeFile(join(legacy, 'guest.conf'), 'memory: 64\n');
    await qemuImg('convert', '-f', 'raw', '-O', 'qcow2', reference, join(legacy, `${DEVICE}.qcow2`));
    const volumes = await env.storage.listVolumes({ vmid: 100 });
    expect(volumes.map((volume) => [volume.volid, volume.ctime])).toEqual([
      ['store:backup/100/qemu-1732648708', 1732648708],
      ['store:backup/100/qemu-2026-11-18T11:06:40Z', T0],
    ]);
    expect(await restoreMatches(env.storage.newBackupProvider(env.log), 'backup/100/qemu-1732648708', reference)).toBe(true);
    const info = await env.storage.volumeSizeInfo(volname);
    expect(info).toMatchObject({ format: 'directory', ctime: T0, size: volumes[1]!.size, used: volumes[1]!.size });
    expect(() => env!.storage.parseVolname('backup/100/../etc')).toThrow();
    let code: string | undefined;
    try {
      env.storage.parseVolname('backup/100/vm-1');
    } catch (error) {
      code = (error as BpError).code;
    }
    expect(code).toBe('BP_INVALID_VOLUME_ID');
    expect((await env.storage.status()).total).toBeGreaterThan(0);
  });

  it('fails activation of a missing path with BP_STORAGE_UNAVAILABLE', async () => {
    env = await createTestStorage();
    await env.storage.activateStorage();
    const missing = (await import('../src/index.js')).dirExamplePlugin.open('gone', { ...env.storage.config, path: join(env.root, 'missing') });
    await expect(missing.activateStorage({ timeoutMs: 5_000 })).rejects.toSatisfy(hasCode('BP_STORAGE_UNAVAILABLE'));
  });
});

describe('a hung storage', () => {
  it('fails activation within the timeout instead of hanging the caller', async () => {
    env = await createTestStorage();
    // A FUSE mount whose server is stopped: every lookup below it blocks.
    const image = join(env.work, 'store.sqfs');
    await mkdir(join(env.work, 'content', 'store'), { recursive: true });
    await mkdir(join(env.work, 'content', 'healthy'), { recursive: true });
    await execa('mksquashfs', [join(env.work, 'content'), image, '-quiet', '-no-progress']);
    const mountPoint = join(env.work, 'mnt');
    await mkdir(mountPoint);
    const server = execa('squashfuse', ['-f', image, mountPoint], { reject: false });
    try {
      for (let tries = 0; tries < 100 && !(await readFile('/proc/self/mounts', 'utf8')).includes(` ${mountPoint} `); tries++) await new Promise((resolve) => setTimeout(resolve, 100));
      const { dirExamplePlugin } = await import('../src/index.js');
      await dirExamplePlugin.open('healthy', { ...env.storage.config, path: join(mountPoint, 'healthy') }).activateStorage({ timeoutMs: 30_000 });
      // Never looked up before, so no cached entry answers for the stopped server.
      const hung = dirExamplePlugin.open('hung', { ...env.storage.config, path: join(mountPoint, 'store') });
      server.kill('SIGSTOP');
      await expect(hung.activateStorage({ timeoutMs: 1_000 })).rejects.toSatisfy(hasCode('BP_STORAGE_UNAVAILABLE'));
    } finally {
      server.kill('SIGCONT');
      await execa('fusermount3', ['-u', mountPoint], { reject: false });
      server.kill();
      await server;
    }
  });
});

describe('attributes', () => {
  it('keeps notes and protection and enforces max-protected-backups', async () => {
    env = await createTestStorage({ 'max-protected-backups': 1 });
    const first = await oneVmBackup(env, T0);
    const second = await oneVmBackup(env, T0 + 60);
    await env.storage.updateVolumeAttribute(first.volname, 'notes', 'line one\nline two');
    expect(await env.storage.getVolumeAttribute(first.volname, 'notes')).toBe('line one\nline two');
    await env.storage.updateVolumeAttribute(first.volname, 'protected', true);
    await expect(env.storage.updateVolumeAttribute(second.volname, 'protected', true)).rejects.toSatisfy(hasCode('BP_PROTECTED_LIMIT'));
    const [listed] = await env.storage.listVolumes();
    expect(listed).toMatchObject({ notes: 'line one', protected: true });
    await expect(env.storage.freeImage(first.volname)).rejects.toSatisfy(hasCode('BP_PROTECTED'));
    const pruned = await env.storage.pruneBackups({ 'keep-last': 1 }, { vmid: 100 });
    expect(pruned.map((entry) => entry.mark).sort()).toEqual(['keep', 'protected']);
    expect((await env.storage.listVolumes()).length).toBe(2);
    // Notes and protection are not part of the manifest.
    expect((await env.storage.verify()).every((result) => result.ok)).toBe(true);
  });
});

describe('host quirks and failure handling', () => {
  it('tolerates cleanup without init, cleanup twice, fresh instances and log hand-off without init', async () => {
    env = await createTestStorage();
    const provider = env.storage.newBackupProvider(env.log);
    expect(await provider.backupCleanup(100, undefined, false, { error: 'VM 100 not found\n' })).toEqual({});
    const log = join(env.work, 'qemu-100.log');
    await writeFile(log, 'INFO: starting\n');
    await provider.backupHandleLogFile(100, log);
    const orphanLogs = await env.storage.failedLogs(100);
    expect(orphanLogs.length).toBe(1);
    expect(await readFile(orphanLogs[0]!, 'utf8')).toBe('INFO: starting\n');

    // backupInit on one instance, cleanup and log hand-off on fresh ones (state lives on disk).
    const { archiveName } = await env.storage.newBackupProvider(env.log).backupInit(100, 'qemu', T0);
    expect(await env.storage.listVolumes()).toEqual([]);
    await env.storage.newBackupProvider(env.log).backupCleanup(100, 'qemu', false, { error: 'guest locked\n' });
    await env.storage.newBackupProvider(env.log).backupCleanup(100, 'qemu', false, { error: 'again\n' });
    const fresh = env.storage.newBackupProvider(env.log);
    await fresh.backupHandleLogFile(100, log);
    expect(await env.storage.listVolumes()).toEqual([]);
    const logs = await env.storage.failedLogs(100);
    expect(logs.some((path) => path.includes(archiveName.split('/')[1]!))).toBe(true);

    // A success that is followed by a failure (backup-end hook died): nothing stays listed.
    const ok = await oneVmBackup(env, T0 + 60);
    expect((await env.storage.listVolumes()).length).toBe(1);
    const after = env.storage.newBackupProvider(env.log);
    await after.backupCleanup(100, 'qemu', false, { error: 'backup-end hook failed\n' });
    expect(await env.storage.listVolumes()).toEqual([]);
    expect(ok.volname).toContain('qemu-');

    // Pruning clears the logs of failed attempts.
    await env.storage.pruneBackups('keep-last=1', { vmid: 100 });
    expect(await env.storage.failedLogs(100)).toEqual([]);
  });

  it('prune removes a partial backup whose job died, and its chain is not trusted any more', async () => {
    env = await createTestStorage({ 'vm-backup-mode': 'incremental' });
    const base = await oneVmBackup(env, T0);
    const dead = execa('true');
    await dead;
    const partial = join(env.root, '100', '.partial-qemu-2026-11-18T12:00:00Z');
    await mkdir(partial);
    const baseDir = base.volname.split('/')[2]!;
    await writeFile(
      join(partial, '.bp-state.json'),
      JSON.stringify({ archiveName: '100/qemu-2026-11-18T12:00:00Z', vmid: 100, vmtype: 'qemu', startTime: T0 + 3600, ownerPid: dead.pid!, bases: { [DEVICE]: `${baseDir}/${DEVICE}.qcow2` }, vmDone: true, written: { [DEVICE]: `qemu-2026-11-18T12:00:00Z/${DEVICE}.qcow2` } }),
    );
    await writeFile(join(env.root, '100', 'previous-info'), JSON.stringify({ [DEVICE]: `${baseDir}/${DEVICE}.qcow2` }));
    await env.storage.pruneBackups('keep-all=1', { vmid: 100, log: env.log });
    expect(await stat(partial).then(() => true, () => false)).toBe(false);
    expect(JSON.parse(await readFile(join(env.root, '100', 'previous-info'), 'utf8'))).toEqual({});
    // Not pinned by the dead backup any more.
    await env.storage.freeImage(base.volname);
    expect(await env.storage.listVolumes()).toEqual([]);
  });

  it('refuses new backups on a disabled storage', async () => {
    env = await createTestStorage({ disable: true });
    await expect(env.storage.newBackupProvider(env.log).backupInit(100, 'qemu', T0)).rejects.toSatisfy(hasCode('BP_STORAGE_UNAVAILABLE'));
  });
});

describe('verify', () => {
  it('reports a corrupt block and a missing file with their names', async () => {
    env = await createTestStorage();
    const { volname } = await oneVmBackup(env, T0);
    expect(await env.storage.verify(volname)).toEqual([{ volid: `store:${volname}`, ok: true, problems: [] }]);
    const dir = (await env.storage.path(volname)).path;
    const image = await open(join(dir, `${DEVICE}.qcow2`), 'r+');
    const size = (await image.stat()).size;
    await image.write(Buffer.from([0xde, 0xad]), 0, 2, size - 100);
    await image.close();
    await rm(join(dir, 'guest.conf'));
    const [result] = await env.storage.verify(volname);
    expect(result?.ok).toBe(false);
    expect(result?.problems.join('\n')).toMatch(/drive-scsi0\.qcow2: checksum mismatch in blocks at offsets/);
    expect(result?.problems.join('\n')).toMatch(/guest\.conf: missing/);
    expect(() => assertVerified([result!])).toThrow(expect.objectContaining({ code: 'BP_VERIFY_FAILED' }));
  });

  it('writes manifest version 2 from checksums taken while writing, and still verifies version 1 manifests', async () => {
    env = await createTestStorage();
    const { volname } = await oneVmBackup(env, T0);
    const dir = (await env.storage.path(volname)).path;
    const image = join(dir, `${DEVICE}.qcow2`);
    const manifest = JSON.parse(await readFile(join(dir, 'manifest.json'), 'utf8')) as { version: number; files: Record<string, { size: number; blocks: string[]; root?: string }> };
    expect(manifest.version).toBe(2);
    // The entry taken from the writes equals a fresh read of the published file.
    const fresh = await hashFileBlocks(image);
    expect(manifest.files[`${DEVICE}.qcow2`]).toEqual({ size: fresh.size, blocks: fresh.blocks, root: rootHash(fresh.blocks) });
    expect(await readdir(dir)).not.toContain('.bp-checksums');
    // A manifest of an older backup (version 1: whole-file SHA-256).
    const files: Record<string, { size: number; sha256: string; blocks: string[] }> = {};
    for (const name of Object.keys(manifest.files)) {
      const { size, blocks, sha256 } = await hashFileBlocks(join(dir, name), { whole: true });
      files[name] = { size, sha256: sha256!, blocks };
    }
    await writeFile(join(dir, 'manifest.json'), JSON.stringify({ version: 1, algorithm: 'sha256', blockSize: MANIFEST_BLOCK_SIZE, files }));
    expect((await env.storage.verify(volname))[0]?.problems).toEqual([]);
    const handle = await open(image, 'r+');
    await handle.write(Buffer.from([0x01]), 0, 1, 70_000);
    await handle.close();
    expect((await env.storage.verify(volname))[0]?.problems.join('\n')).toMatch(/drive-scsi0\.qcow2: checksum mismatch in blocks at offsets 0\b/);
  });
});
