import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ErrorJson, ListJson, StorageChangeJson, StorageListJson } from '../src/index.js';
import { createSandbox, type BpSandbox } from './helpers/run-bp.js';

let bp: BpSandbox;
beforeAll(async () => {
  bp = await createSandbox();
});
afterAll(async () => {
  await bp?.dispose();
});

describe('help', () => {
  it('prints the command list, exit codes and examples on stdout with exit 0', async () => {
    const result = await bp.run(['--help']);
    expect(result.exitCode).toBe(0);
    expect(result.stdout).toContain('Usage: bp <command>');
    expect(result.stdout).toMatch(/Examples\n {2}\$ bp demo/);
    expect(result.stdout).toContain('Exit codes: 0 success, 1 operation failed, 2 usage');
    for (const command of ['backup vm', 'backup ct', 'restore', 'list', 'show', 'prune', 'verify', 'storage add', 'nbd', 'demo']) {
      expect(result.stdout).toContain(`  ${command} `);
    }
    expect(result.stderr).toBe('');
  });

  it('prints a command help with its options and an Examples block', async () => {
    const result = await bp.run(['backup', 'vm', '--help']);
    expect(result.exitCode).toBe(0);
    expect(result.stdout).toMatch(/^Usage: bp backup vm <vmid>/);
    for (const option of ['--disk', '--qmp', '--mode', '--mechanism', '--bwlimit', '--notes', '--protected', '--prune']) expect(result.stdout).toContain(option);
    expect(result.stdout).toContain('$ bp backup vm 100 --disk scsi0=./disk.qcow2');
    expect((await bp.run(['help', 'prune'])).stdout).toContain('--dry-run');
    const group = await bp.run(['backup', '--help']);
    expect(group.exitCode).toBe(0);
    expect(group.stdout).toMatch(/^Usage: bp backup <vm\|ct>/);
  });

  it('prints the version', async () => {
    const result = await bp.run(['--version']);
    expect(result.exitCode).toBe(0);
    expect(result.stdout.trim()).toMatch(/^\d+\.\d+\.\d+/);
  });
});

describe('usage errors exit 2 with a BP_ code, a hint and no stack trace', () => {
  const cases: Array<[string, string[], RegExp]> = [
    ['no command', [], /Usage: bp <command>/],
    ['unknown command', ['frobnicate'], /BP_INVALID_ARGUMENT: unknown command `frobnicate`/],
    ['missing subcommand', ['backup'], /`backup` needs a subcommand: backup vm, backup ct/],
    ['unknown option', ['list', '--frob'], /BP_INVALID_ARGUMENT: Unknown option '--frob'/],
    ['vmid out of range', ['list', '99'], /vmid must be from 100/],
    ['backup without disks', ['backup', 'vm', '100'], /--disk scsi0=<image>/],
    ['bad drive key', ['backup', 'vm', '100', '--disk', 'hda=/x.qcow2'], /not a PVE drive key/],
    ['bad mode', ['backup', 'vm', '100', '--disk', 'scsi0=/x', '--mode', 'sometimes'], /--mode must be one of full, incremental/],
    ['bad volume ID', ['show', 'local:nonsense'], /BP_INVALID_VOLUME_ID/],
    ['prune without retention', ['prune'], /give a retention/],
    ['invalid retention', ['prune', '--keep-daily', 'x'], /--keep-daily must be a whole number/],
    ['unknown storage', ['list', '--storage', 'nowhere'], /BP_INVALID_CONFIG: storage "nowhere" is not configured/],
    ['restore without --to', ['restore', 'local:backup/100/qemu-2026-11-26T20:00:00Z'], /--to <dir> is required/],
    ['too many arguments', ['list', '100', '101'], /got extra "101"/],
  ];
  it.each(cases)('%s', async (_name, args, pattern) => {
    const result = await bp.run(args);
    expect(result.exitCode).toBe(2);
    expect(result.stderr).toMatch(pattern);
    expect(result.stderr).not.toMatch(/\n\s+at /);
    expect(result.stdout).toBe('');
  });

  it('--debug adds the stack trace', async () => {
    const result = await bp.run(['show', 'local:nonsense', '--debug']);
    expect(result.exitCode).toBe(2);
    expect(result.stderr).toMatch(/\n\s+at /);
  });

  it('--json prints the error as one JSON document', async () => {
    const result = await bp.run(['list', '--storage', 'nowhere', '--json']);
    expect(result.exitCode).toBe(2);
    const json = JSON.parse(result.stdout) as ErrorJson;
    expect(json.error.code).toBe('BP_INVALID_CONFIG');
    expect(json.error.message).toContain('nowhere');
  });
});

describe('storages', () => {
  it('lists the embedded storages, adds, uses and removes a configured one', async () => {
    const before = await bp.json<StorageListJson>(['storage', 'list']);
    expect(before.storages.map((storage) => [storage.id, storage.source, storage.default])).toEqual([
      ['local', 'embedded', true],
      ['demo', 'embedded', false],
    ]);
    const added = await bp.json<StorageChangeJson>(['storage', 'add', 'nas', '--path', join(bp.root, 'nas'), '--vm-backup-mode', 'incremental', '--default']);
    expect(added).toMatchObject({ action: 'added', storage: { id: 'nas', source: 'file', default: true, config: { path: join(bp.root, 'nas'), 'vm-backup-mode': 'incremental' } } });
    const file = JSON.parse(await readFile(added.configFile, 'utf8')) as { default: string; storages: Array<{ id: string }> };
    expect(file.default).toBe('nas');
    expect(file.storages.map((storage) => storage.id)).toEqual(['nas']);
    const listed = await bp.json<ListJson>(['list']);
    expect(listed).toEqual({ storage: 'nas', backups: [] });
    expect((await bp.run(['storage', 'add', 'nas', '--path', '/tmp'])).exitCode).toBe(1);
    expect((await bp.run(['storage', 'add', 'bad', '--path', '/tmp', '--vm-backup-mode', 'sometimes'])).exitCode).toBe(2);
    expect((await bp.json<StorageChangeJson>(['storage', 'remove', 'nas'])).action).toBe('removed');
    expect((await bp.json<ListJson>(['list'])).storage).toBe('local');
    expect((await bp.run(['storage', 'remove', 'local'])).stderr).toContain('built in');
  });

  it('rejects a broken storages file with exit 2 and the location of the problem', async () => {
    const file = join(bp.home, 'storages.json');
    await writeFile(file, JSON.stringify({ storages: [{ id: '9bad', type: 'x' }] }));
    try {
      const result = await bp.run(['list']);
      expect(result.exitCode).toBe(2);
      expect(result.stderr).toMatch(/BP_INVALID_CONFIG: invalid storages file .*location: storages\.0\.id/);
      await writeFile(file, '{ not json');
      expect((await bp.run(['storage', 'list'])).stderr).toContain('is not valid JSON');
    } finally {
      await writeFile(file, JSON.stringify({ storages: [] }));
    }
  });
});
