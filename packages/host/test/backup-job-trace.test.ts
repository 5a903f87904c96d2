import { readFileSync, statSync } from 'node:fs';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { runBackupJob, type JobEvent } from '../src/index.js';
import { createJobFixture, VM_CALLS_THROUGH_BACKUP_VM, type JobFixture } from './support/job-fixture.js';
import { checkLeaksAfterEach } from './support/leaks.js';
import { DOUBLE_DEVICE_SIZE, vmAccessDouble } from './support/vm-access-double.js';

let fixture: JobFixture;
checkLeaksAfterEach({ beforeEach, afterEach }, () => fixture?.remove());

describe('runBackupJob call order (spec 1.1 example trace: vzdump 100 101 200)', () => {
  it('drives provider and storage as vzdump does: VM ok, VM failing in backupVm, unprivileged CT in a child', async () => {
    fixture = createJobFixture({ failures: { 'backupVm:101': 'disk exploded' } });
    const events: JobEvent[] = [];
    const lines: string[] = [];
    const result = await runBackupJob({
      storage: fixture.storage,
      guests: [fixture.container(200), fixture.vm(101), fixture.vm(100, { firewallConfig: '[OPTIONS]\nenable: 1\n' })],
      options: { logDir: fixture.logDir, notesTemplate: '{{guestname}} on {{node}}\\n{{vmid}}', prune: 'keep-last=2', bwlimitKiB: 100, node: 'pve1' },
      log: (level, message) => lines.push(`${level}: ${message}`),
      onEvent: (event) => events.push(event),
      vmAccess: vmAccessDouble(fixture.recordFile),
    });

    const vmGuest = (failing: boolean): string[] => [
      ...VM_CALLS_THROUGH_BACKUP_VM,
      ...(failing
        ? ['vm.teardown', 'vm.close', 'provider.backupCleanup']
        : ['storage.updateVolumeAttribute', 'storage.activateStorage', 'storage.pruneBackups', 'provider.backupCleanup', 'vm.teardown', 'vm.close']),
      'provider.backupHandleLogFile',
    ];
    expect(fixture.calls()).toEqual([
      'storage.activateStorage',
      'storage.newBackupProvider',
      'provider.jobInit',
      ...vmGuest(false),
      ...vmGuest(true),
      'provider.backupInit',
      'provider.providerName',
      'provider.providerName',
      'provider.backupGetMechanism',
      'provider.backupContainerPrepare',
      'storage.newBackupProvider', // fresh provider in the child
      'provider.backupContainer',
      'storage.updateVolumeAttribute',
      'storage.activateStorage',
      'storage.pruneBackups',
      'provider.backupCleanup',
      'provider.backupHandleLogFile',
      'provider.jobCleanup',
    ]);

    const records = fixture.records();
    const of = (method: string, vmid?: number) => records.filter((r) => r.method === method && (vmid === undefined || r.args[0] === vmid));
    expect(of('backupInit').map((r) => r.args.slice(0, 2))).toEqual([
      [100, 'qemu'],
      [101, 'qemu'],
      [200, 'lxc'],
    ]);
    expect(of('backupGetMechanism').map((r) => r.args)).toEqual([
      [100, 'qemu'],
      [101, 'qemu'],
      [200, 'lxc'],
    ]);
    expect(of('backupVmQueryIncremental', 100)[0]!.args[1]).toEqual({
      'drive-scsi0': { size: DOUBLE_DEVICE_SIZE },
      'drive-efidisk0': { size: DOUBLE_DEVICE_SIZE },
    });
    expect(records.filter((r) => r.method === 'setupAccess')[0]!.args).toEqual(['rec', { 'drive-scsi0': 'new', 'drive-efidisk0': 'new' }, 'nbd']);

    // backupVm: config text with map lines (lock: dropped), volumes, info in bytes/s, firewall only when present
    const [vm100, vm101] = of('backupVm');
    expect(vm100!.args[1]).toBe(
      'name: vm100\nscsi0: local-lvm:vm-100-disk-0,size=1M\nefidisk0: local-lvm:vm-100-disk-1,size=1M\n' +
        '#qmdump#map:scsi0:drive-scsi0:local-lvm:qcow2:\n#qmdump#map:efidisk0:drive-efidisk0:local-lvm:raw:\n',
    );
    expect(vm100!.args[2]).toMatchObject({ 'drive-scsi0': { mechanism: 'nbd', exportName: 'drive-scsi0', bitmapMode: 'new', bitmapName: 'snapshot-access:rec' } });
    expect(vm100!.args[3]).toEqual({ bandwidthLimit: 102400, firewallConfig: '[OPTIONS]\nenable: 1\n', signal: undefined });
    expect(vm101!.args[3]).toEqual({ bandwidthLimit: 102400, signal: undefined });

    // H1: teardown success = "backupVm returned"
    expect(records.filter((r) => r.method === 'teardown').map((r) => r.args[0])).toEqual([true, false]);

    // cleanup arguments
    expect(of('backupCleanup').map((r) => r.args)).toEqual([
      [100, 'qemu', true, {}],
      [101, 'qemu', false, { error: 'disk exploded' }],
      [200, 'lxc', true, {}],
    ]);

    // notes rendered; prune with the job's keep options for this guest
    const notes = records.filter((r) => r.method === 'updateVolumeAttribute');
    expect(notes[0]!.args).toEqual([expect.stringMatching(/^backup\/100\/qemu-\d+$/), 'notes', 'vm100 on pve1\n100']);
    expect(notes[1]!.args).toEqual([expect.stringMatching(/^backup\/200\/lxc-\d+$/), 'notes', 'ct200 on pve1\n200']);
    expect(records.filter((r) => r.method === 'pruneBackups').map((r) => r.args)).toEqual([
      [{ 'keep-last': 2 }, { vmid: 100, type: 'qemu', dryRun: false }],
      [{ 'keep-last': 2 }, { vmid: 200, type: 'lxc', dryRun: false }],
    ]);

    // container: prepare as root in this process, backupContainer in the child as uid 100000
    const [prepare] = of('backupContainerPrepare');
    const [container] = of('backupContainer');
    expect(prepare!.uid).toBe(0);
    expect(prepare!.pid).toBe(process.pid);
    // The child is root of a user namespace mapping 0 -> 100000: host uid 100000, container files owned by 0.
    expect(container!.uid).toBe(0);
    expect(container!.pid).not.toBe(process.pid);
    expect(container!.args[1]).toBe('hostname: ct200\nunprivileged: 1\nrootfs: local:subvol-200-disk-0\n');
    expect(container!.args[2]).toEqual(['/tmp/?*', '/var/tmp/?*', '/var/run/?*.pid']);
    expect(container!.args[3]).toEqual({ directory: expect.any(String), sources: ['./'], backupUserId: 100000, firewallConfig: '', bandwidthLimit: 102400 });
    const seenFile = `${fixture.storage.config.root}/200/seen.json`;
    expect(JSON.parse(readFileSync(seenFile, 'utf8'))).toEqual({ uid: 0, uidMap: [0, 100000, 65536], hostnameOwner: 0 });
    expect(statSync(seenFile).uid).toBe(100000); // written by host uid 100000 into the directory prepare chowned

    // per-guest task logs handed over, in PVE's style
    const handed = of('backupHandleLogFile');
    expect(handed.map((r) => r.args[1])).toEqual([`${fixture.logDir}/qemu-100.log`, `${fixture.logDir}/qemu-101.log`, `${fixture.logDir}/lxc-200.log`]);
    const log100 = handed[0]!.args[2] as string;
    expect(log100).toMatch(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d INFO: Starting Backup of VM 100 \(qemu\)$/m);
    expect(log100).toMatch(/INFO: creating recording archive 'rec:backup\/100\/qemu-\d+'$/m);
    expect(log100).toMatch(/INFO: Finished Backup of VM 100 \(\d\d:\d\d:\d\d\)$/m);
    expect(handed[1]!.args[2] as string).toMatch(/ERROR: Backup of VM 101 failed - disk exploded$/m);
    expect(lines).toContain('info: starting new backup job: 100 101 200 --storage rec');

    // result and events
    expect(result.ok).toBe(false);
    expect(result.error).toBeUndefined();
    expect(result.guests.map((g) => [g.vmid, g.status, g.size])).toEqual([
      [100, 'ok', 4242],
      [101, 'error', undefined],
      [200, 'ok', 4242],
    ]);
    expect(result.guests[1]!.error?.code).toBe('BP_PROVIDER_FAILED');
    expect(events.filter((e) => e.type === 'guest-end').map((e) => (e.type === 'guest-end' ? [e.vmid, e.status] : []))).toEqual([
      [100, 'ok'],
      [101, 'error'],
      [200, 'ok'],
    ]);
    expect(events.at(-1)).toEqual({ type: 'job-end', ok: false });
  });
});
