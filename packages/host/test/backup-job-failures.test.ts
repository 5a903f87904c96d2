import { existsSync } from 'node:fs';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { runBackupJob, type GuestSpec } from '../src/index.js';
import { createJobFixture, VM_CALLS_THROUGH_BACKUP_VM, type JobFixture } from './support/job-fixture.js';
import { checkLeaksAfterEach } from './support/leaks.js';
import type { RecordingConfig } from './support/recording-plugin.js';
import { vmAccessDouble } from './support/vm-access-double.js';

let fixture: JobFixture;
checkLeaksAfterEach({ beforeEach, afterEach }, () => fixture?.remove());

async function run(config: Partial<RecordingConfig>, guests: (f: JobFixture) => GuestSpec[], options: Parameters<typeof runBackupJob>[0]['options'] = {}) {
  fixture = createJobFixture(config);
  const result = await runBackupJob({
    storage: fixture.storage,
    guests: guests(fixture),
    options: { logDir: fixture.logDir, ...options },
    vmAccess: vmAccessDouble(fixture.recordFile),
  });
  return result;
}

const providerCalls = (f: JobFixture): string[] => f.calls().filter((c) => !c.startsWith('storage.activate') && c !== 'storage.newBackupProvider');

describe('runBackupJob failure semantics (spec 1.7)', () => {
  it('failure before backupInit (protected limit): backupCleanup(false) without log hand-off', async () => {
    const result = await run({ 'max-protected-backups': 0 }, (f) => [f.vm(100)], { protected: true });
    expect(providerCalls(fixture)).toEqual(['provider.jobInit', 'storage.listVolumes', 'provider.backupCleanup', 'provider.jobCleanup']);
    const cleanup = fixture.records().find((r) => r.method === 'backupCleanup')!;
    expect(cleanup.args).toEqual([100, 'qemu', false, { error: expect.stringContaining('limited to 0') }]);
    expect(result.guests[0]!.status).toBe('error');
    expect(result.guests[0]!.logFile).toBeUndefined();
    expect(result.guests[0]!.error?.code).toBe('BP_PROTECTED_LIMIT');
  });

  it('unknown guest type: backupCleanup with vmtype undefined, no backupInit, no log hand-off', async () => {
    const result = await run({}, (f) => [{ ...f.vm(100), type: 'openvz' } as unknown as GuestSpec, f.vm(101)]);
    const records = fixture.records();
    expect(records.filter((r) => r.method === 'backupCleanup').map((r) => r.args)).toEqual([
      [100, null, false, { error: expect.stringContaining('unknown type') }],
      [101, 'qemu', true, {}],
    ]);
    expect(records.filter((r) => r.method === 'backupInit').map((r) => r.args[0])).toEqual([101]);
    expect(records.filter((r) => r.method === 'backupHandleLogFile').map((r) => r.args[0])).toEqual([101]);
    expect(result.guests.map((g) => g.status)).toEqual(['error', 'ok']);
  });

  it('invalid archive name from backupInit: the guest fails, cleanup(false) and log hand-off follow', async () => {
    const result = await run({ results: { 'backupInit:100': { archiveName: '../escape' } } }, (f) => [f.vm(100)]);
    expect(providerCalls(fixture)).toEqual(['provider.jobInit', 'provider.backupInit', 'provider.backupCleanup', 'provider.backupHandleLogFile', 'provider.jobCleanup']);
    expect(result.guests[0]!.error?.message).toMatch(/^backup init failed: /);
  });

  it('unsupported mechanism and bad incremental answers fail the guest before the snapshot access', async () => {
    const result = await run(
      { results: { 'backupGetMechanism:100': 'directory', 'backupVmQueryIncremental:101': { 'drive-scsi0': 'maybe' } } },
      (f) => [f.vm(100), f.vm(101)],
    );
    const calls = fixture.calls();
    expect(calls.filter((c) => c === 'vm.setupAccess')).toEqual([]);
    expect(calls.filter((c) => c === 'vm.close')).toHaveLength(2);
    expect(result.guests.map((g) => g.status)).toEqual(['error', 'error']);
  });

  it('failure after backupVm (prune): teardown(true) already happened, then backupCleanup(false) (hazard H1)', async () => {
    const result = await run({ failures: { 'storage.pruneBackups': 'prune broke' } }, (f) => [f.vm(100)], { prune: { 'keep-last': 1 } });
    expect(providerCalls(fixture)).toEqual([
      'provider.jobInit',
      ...VM_CALLS_THROUGH_BACKUP_VM,
      'storage.pruneBackups',
      'vm.teardown',
      'vm.close',
      'provider.backupCleanup',
      'provider.backupHandleLogFile',
      'provider.jobCleanup',
    ]);
    const records = fixture.records();
    expect(records.find((r) => r.method === 'teardown')!.args).toEqual([true]);
    expect(records.find((r) => r.method === 'backupCleanup')!.args).toEqual([100, 'qemu', false, { error: 'prune broke' }]);
    expect(result.guests[0]!.status).toBe('error');
  });

  it("storage's prune-backups is the default; keep-all means no pruning", async () => {
    await run({ 'prune-backups': 'keep-daily=3' }, (f) => [f.vm(100)]);
    expect(fixture.records().find((r) => r.method === 'pruneBackups')!.args[0]).toEqual({ 'keep-daily': 3 });
    fixture.remove();
    await run({ 'prune-backups': 'keep-daily=3' }, (f) => [f.vm(100)], { prune: 'keep-all=1' });
    expect(fixture.calls()).not.toContain('storage.pruneBackups');
  });

  it('backupCleanup(true) throws: backupCleanup is called twice (success, then failure after teardown)', async () => {
    const result = await run({ failures: { 'backupCleanup:100': 'finalize failed' } }, (f) => [f.vm(100)]);
    const tail = providerCalls(fixture).slice(-6);
    expect(tail).toEqual(['provider.backupCleanup', 'vm.teardown', 'vm.close', 'provider.backupCleanup', 'provider.backupHandleLogFile', 'provider.jobCleanup']);
    expect(fixture.records().filter((r) => r.method === 'backupCleanup').map((r) => r.args)).toEqual([
      [100, 'qemu', true, {}],
      [100, 'qemu', false, { error: 'finalize failed' }],
    ]);
    expect(fixture.records().find((r) => r.method === 'teardown')!.args).toEqual([true]);
    expect(result.guests[0]!.status).toBe('error');
  });

  it('backupHandleLogFile throws: the remaining guests are skipped, jobCleanup runs once', async () => {
    const result = await run({ failures: { 'backupHandleLogFile:100': 'log store down' } }, (f) => [f.vm(100), f.vm(101)]);
    const calls = providerCalls(fixture);
    expect(calls.filter((c) => c === 'provider.backupInit')).toHaveLength(1);
    expect(calls.filter((c) => c === 'provider.jobCleanup')).toHaveLength(1);
    expect(result.ok).toBe(false);
    expect(result.error?.message).toContain('log store down');
    expect(result.guests.map((g) => g.status)).toEqual(['ok', 'skipped']);
  });

  it('jobInit throws: no guest, jobCleanup once', async () => {
    const result = await run({ failures: { jobInit: 'no' } }, (f) => [f.vm(100)]);
    expect(providerCalls(fixture)).toEqual(['provider.jobInit', 'provider.jobCleanup']);
    expect(result.guests[0]!.status).toBe('skipped');
    expect(result.ok).toBe(false);
  });

  it('jobCleanup throws on the success path: called again, its text joins the error', async () => {
    const result = await run({ failures: { jobCleanup: 'cleanup broke' } }, (f) => [f.vm(100)]);
    expect(providerCalls(fixture).filter((c) => c === 'provider.jobCleanup')).toHaveLength(2);
    expect(result.error?.message).toContain('cleanup broke\ncleanup broke');
    expect(result.guests[0]!.status).toBe('ok');
  });

  it('newBackupProvider throws: no provider call at all', async () => {
    const result = await run({ failures: { 'storage.newBackupProvider': 'bad config' } }, (f) => [f.vm(100)]);
    expect(fixture.calls()).toEqual(['storage.activateStorage', 'storage.newBackupProvider']);
    expect(result.error?.message).toContain('bad config');
  });

  it('notes failure only warns; protected failure is fatal', async () => {
    const notes = await run({ failures: { 'storage.updateVolumeAttribute': 'no notes here' } }, (f) => [f.vm(100)], { notesTemplate: '{{vmid}}' });
    expect(notes.guests[0]!.status).toBe('ok');
    const log = fixture.records().find((r) => r.method === 'backupHandleLogFile')!.args[2] as string;
    expect(log).toMatch(/WARN: unable to add notes - no notes here$/m);
    fixture.remove();
    const prot = await run({ failures: { 'storage.updateVolumeAttribute': 'cannot protect' } }, (f) => [f.vm(100)], { protected: true });
    expect(prot.guests[0]!.status).toBe('error');
    expect(fixture.records().filter((r) => r.method === 'backupCleanup').map((r) => r.args[2])).toEqual([false]);
  });

  it('a failing privileged container runs in-process; an unprivileged child failure comes back with its message', async () => {
    const result = await run({ failures: { 'backupContainer:201': 'tar died' } }, (f) => [f.container(200, { backupUserId: 0 }), f.container(201)]);
    const records = fixture.records();
    const containers = records.filter((r) => r.method === 'backupContainer');
    expect(containers.map((r) => [r.args[0], r.uid, r.pid === process.pid])).toEqual([
      [200, 0, true],
      [201, 0, false], // root of the container's user namespace = host uid 100000
    ]);
    expect(result.guests[1]!.error?.message).toBe('tar died');
    expect(records.filter((r) => r.method === 'backupCleanup').map((r) => r.args)).toEqual([
      [200, 'lxc', true, {}],
      [201, 'lxc', false, { error: 'tar died' }],
    ]);
    const log200 = records.find((r) => r.method === 'backupHandleLogFile' && r.args[0] === 200)!.args[2] as string;
    expect(log200).toMatch(/WARN: external backup of privileged container can only be restored as unprivileged$/m);
  });

  it('an aborted job stops the current guest and skips the rest', async () => {
    const controller = new AbortController();
    fixture = createJobFixture();
    const result = await runBackupJob({
      storage: fixture.storage,
      guests: [fixture.vm(100), fixture.vm(101)],
      options: { logDir: fixture.logDir },
      vmAccess: async (o) => {
        controller.abort(new Error('SIGINT'));
        return vmAccessDouble(fixture.recordFile)(o);
      },
      signal: controller.signal,
    });
    expect(result.error?.code).toBe('BP_ABORTED');
    expect(result.guests.map((g) => g.status)).toEqual(['error', 'skipped']);
    expect(existsSync(fixture.logDir)).toBe(true);
  });

  it('aborting during the container child terminates it; the guest fails with BP_ABORTED', async () => {
    const controller = new AbortController();
    fixture = createJobFixture({ results: { 'backupContainerDelayMs:200': 600_000 } });
    const result = await runBackupJob({
      storage: fixture.storage,
      guests: [fixture.container(200), fixture.container(201)],
      options: { logDir: fixture.logDir },
      onEvent: (event) => {
        // Abort once the child has really started (its first provider call is recorded).
        if (event.type === 'phase' && event.phase === 'backup-container') {
          const poll = setInterval(() => {
            if (fixture.calls().includes('provider.backupContainer')) {
              clearInterval(poll);
              controller.abort(new Error('SIGTERM'));
            }
          }, 50);
        }
      },
      signal: controller.signal,
    });
    expect(result.guests.map((g) => [g.status, g.error?.code])).toEqual([
      ['error', 'BP_ABORTED'],
      ['skipped', undefined],
    ]);
    expect(fixture.records().filter((r) => r.method === 'backupCleanup').map((r) => r.args)).toEqual([[200, 'lxc', false, { error: 'interrupted by signal' }]]);
    expect(result.error?.code).toBe('BP_ABORTED');
  });

  it('a container child that cannot load the plugin reports the child error as the guest error', async () => {
    fixture = createJobFixture();
    const broken = { ...fixture.storage, plugin: { ...fixture.storage.plugin, moduleRef: { ...fixture.storage.plugin.moduleRef, exportName: 'missing' } } };
    const result = await runBackupJob({ storage: broken, guests: [fixture.container(200)], options: { logDir: fixture.logDir } });
    expect(result.guests[0]!.error).toMatchObject({ code: 'BP_INVALID_CONFIG', message: expect.stringContaining("no storage plugin export 'missing'") });
    expect(fixture.records().filter((r) => r.method === 'backupCleanup').map((r) => r.args[2])).toEqual([false]);
  });
});
