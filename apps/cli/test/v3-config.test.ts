import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createSandbox, type BpSandbox } from './helpers/run-bp.js';

let bp: BpSandbox;
beforeAll(async () => {
  bp = await createSandbox();
});
afterAll(async () => {
  await bp?.dispose();
});

it('a storage configured with the v3 example\'s `vm-backup-mechanism: block-device` works, with one notice line', async () => {
  const path = join(bp.root, 'v3-store');
  await mkdir(join(bp.home, 'config'), { recursive: true });
  const storages = { storages: [{ id: 'v3', type: 'bp-dir-example', path, 'vm-backup-mechanism': 'block-device' }] };
  const list = await bp.run(['storage', 'list', '--json']);
  expect(list.exitCode, list.stderr).toBe(0);
  const file = (JSON.parse(list.stdout) as { configFile: string }).configFile;
  const type = (JSON.parse(list.stdout) as { storages: Array<{ type: string }> }).storages[0]?.type ?? '';
  storages.storages[0]!.type = type;
  await mkdir(join(file, '..'), { recursive: true });
  await writeFile(file, JSON.stringify(storages));
  const result = await bp.run(['list', '--storage', 'v3']);
  expect(result.exitCode, result.stderr).toBe(0);
  expect(result.stdout).toContain('No backups on storage v3.');
  expect(result.stderr).toBe(`bp: notice: vm-backup-mechanism "block-device" of the storage at ${path} is the v3 example's name, loaded as "file-handle"; write "file-handle" in the config to silence this`);
});
