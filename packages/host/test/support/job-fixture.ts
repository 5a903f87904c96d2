// A fresh recording storage, log directory and container tree per test.
import { chmodSync, chownSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { BackupStorage } from '@bp/api';
import type { ContainerGuestSpec, VmGuestSpec } from '../../src/index.js';
import { readRecords, recordingPlugin, type Recorded, type RecordingConfig } from './recording-plugin.js';

export interface JobFixture {
  dir: string;
  recordFile: string;
  logDir: string;
  storage: BackupStorage<RecordingConfig>;
  records(): Recorded[];
  /** `who.method` of every record. */
  calls(): string[];
  vm(vmid: number, extra?: Partial<VmGuestSpec>): VmGuestSpec;
  container(vmid: number, extra?: Partial<ContainerGuestSpec>): ContainerGuestSpec;
  remove(): void;
}

export function createJobFixture(config: Partial<RecordingConfig> = {}): JobFixture {
  const dir = mkdtempSync(join(tmpdir(), 'bp-host-job-'));
  chmodSync(dir, 0o755);
  const recordFile = join(dir, 'calls.jsonl');
  writeFileSync(recordFile, '');
  chmodSync(recordFile, 0o666); // the container child (another uid) appends too
  const root = join(dir, 'store');
  mkdirSync(root, { mode: 0o755 });
  const logDir = join(dir, 'logs');
  const ctRoot = join(dir, 'ct-root');
  for (const sub of ['etc', 'sbin', 'tmp', 'var/tmp']) mkdirSync(join(ctRoot, sub), { recursive: true, mode: 0o755 });
  writeFileSync(join(ctRoot, 'etc/hostname'), 'ct\n');
  // Owned by the container's root (host uid 100000), as an unprivileged container's files are.
  for (const path of ['', 'etc', 'sbin', 'tmp', 'var', 'var/tmp', 'etc/hostname']) chownSync(join(ctRoot, path), 100000, 100000);
  const storage = recordingPlugin.open('rec', recordingPlugin.configSchema.parse({ recordFile, root, ...config }));
  return {
    dir,
    recordFile,
    logDir,
    storage,
    records: () => readRecords(recordFile),
    calls: () => readRecords(recordFile).map((r) => `${r.who}.${r.method}`),
    vm: (vmid, extra = {}) => ({
      type: 'qemu',
      vmid,
      config: `name: vm${vmid}\nscsi0: local-lvm:vm-${vmid}-disk-0,size=1M\nefidisk0: local-lvm:vm-${vmid}-disk-1,size=1M\nlock: backup\n`,
      source: {
        kind: 'images',
        disks: [
          { virtdev: 'scsi0', image: '/nonexistent/scsi0.qcow2', format: 'qcow2' },
          { virtdev: 'efidisk0', image: '/nonexistent/efi.raw', format: 'raw' },
        ],
      },
      ...extra,
    }),
    container: (vmid, extra = {}) => ({
      type: 'lxc',
      vmid,
      config: `hostname: ct${vmid}\nunprivileged: 1\nrootfs: local:subvol-${vmid}-disk-0\n`,
      rootDirectory: ctRoot,
      backupUserId: 100000,
      ...extra,
    }),
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}

/** The calls of a VM guest from `backupInit` through `backupVm`, as vzdump makes them (spec 1.1/1.2). */
export const VM_CALLS_THROUGH_BACKUP_VM: readonly string[] = [
  'provider.backupInit',
  'provider.providerName',
  'provider.providerName',
  'vm.open',
  'provider.backupGetMechanism',
  'provider.backupVmQueryIncremental',
  'vm.setupAccess',
  'provider.backupVm',
];
