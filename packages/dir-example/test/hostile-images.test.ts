import { mkdir, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { BpError } from '@bp/api';
import { afterEach, describe, expect, it } from 'vitest';
import { createTestStorage, type TestStorage } from './support/storage.js';
import { qemuImg } from './support/vm-host.js';

const A = 'qemu-2026-01-01T00:00:00Z';
const B = 'qemu-2026-01-02T00:00:00Z';
const IMAGE = 'drive-scsi0.qcow2';

async function backupDir(env: TestStorage, name: string): Promise<string> {
  const dir = join(env.root, '100', name);
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, 'guest.conf'), 'memory: 128\n');
  return dir;
}

const isUnsafe = (error: unknown): boolean => BpError.hasCode(error, 'BP_UNSAFE_IMAGE');

describe('restore refuses hostile images', () => {
  let env: TestStorage | undefined;
  afterEach(async () => {
    await env?.dispose();
    env = undefined;
  });

  const cases: [string, (env: TestStorage) => Promise<void>][] = [
    ['a backing file pointing at a host file', async (env) => {
      await qemuImg('create', '-q', '-f', 'qcow2', '-u', '-b', '/etc/passwd', '-F', 'raw', join(await backupDir(env, B), IMAGE), '1M');
    }],
    ['an absolute backing path inside the storage', async (env) => {
      const base = join(await backupDir(env, A), IMAGE);
      await qemuImg('create', '-q', '-f', 'qcow2', base, '1M');
      await qemuImg('create', '-q', '-f', 'qcow2', '-u', '-b', base, '-F', 'qcow2', join(await backupDir(env, B), IMAGE), '1M');
    }],
    ['a backing path leaving the guest directory', async (env) => {
      const other = join(env.root, '101', A);
      await mkdir(other, { recursive: true });
      await qemuImg('create', '-q', '-f', 'qcow2', join(other, IMAGE), '1M');
      await qemuImg('create', '-q', '-f', 'qcow2', '-u', '-b', `../../101/${A}/${IMAGE}`, '-F', 'qcow2', join(await backupDir(env, B), IMAGE), '1M');
    }],
    ['a raw backing format', async (env) => {
      await qemuImg('create', '-q', '-f', 'raw', join(await backupDir(env, A), IMAGE), '1M');
      await qemuImg('create', '-q', '-f', 'qcow2', '-u', '-b', `../${A}/${IMAGE}`, '-F', 'raw', join(await backupDir(env, B), IMAGE), '1M');
    }],
    ['an external data file', async (env) => {
      const dir = await backupDir(env, B);
      await qemuImg('create', '-q', '-f', 'qcow2', '-o', `data_file=${join(dir, 'data.raw')}`, join(dir, IMAGE), '1M');
    }],
    ['a backing loop', async (env) => {
      const a = join(await backupDir(env, A), IMAGE);
      const b = join(await backupDir(env, B), IMAGE);
      await qemuImg('create', '-q', '-f', 'qcow2', a, '1M');
      await qemuImg('create', '-q', '-f', 'qcow2', '-u', '-b', `../${A}/${IMAGE}`, '-F', 'qcow2', b, '1M');
      await qemuImg('rebase', '-q', '-u', '-f', 'qcow2', '-b', `../${B}/${IMAGE}`, '-F', 'qcow2', a);
    }],
    ['a symlinked image', async (env) => {
      await symlink('/etc/passwd', join(await backupDir(env, B), IMAGE));
    }],
  ];

  it.each(cases)('%s', async (_name, craft) => {
    env = await createTestStorage();
    await craft(env);
    const provider = env.storage.newBackupProvider(env.log);
    const volname = `backup/100/${B}`;
    await expect(provider.restoreVmInit(volname)).rejects.toSatisfy(isUnsafe);
    await expect(provider.restoreVmVolumeInit(volname, 'drive-scsi0', {})).rejects.toSatisfy(isUnsafe);
    await provider.restoreVmCleanup(volname);
    const verdict = await env.storage.verify(volname);
    expect(verdict[0]?.ok).toBe(false);
  });

  it('refuses a backup whose configuration maps a drive without an image', async () => {
    env = await createTestStorage();
    const dir = await backupDir(env, B);
    await writeFile(join(dir, 'guest.conf'), 'memory: 128\n#qmdump#map:scsi0:drive-scsi0:local:qcow2:\n#qmdump#map:efidisk0:drive-efidisk0:local:raw:\n');
    await qemuImg('create', '-q', '-f', 'qcow2', join(dir, IMAGE), '1M');
    await expect(env.storage.newBackupProvider(env.log).restoreVmInit(`backup/100/${B}`)).rejects.toSatisfy((error) => BpError.hasCode(error, 'BP_CHAIN_BROKEN'));
  });
});
