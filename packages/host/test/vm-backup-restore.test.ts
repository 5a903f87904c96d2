import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync, mkdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { BackupStorage } from '@bp/api';
import { startQemuNbd, type QemuNbdServer } from '@bp/nbd/qemu';
import { restoreVm, runBackupJob, type VmGuestSpec } from '../src/index.js';
import { copyPlugin } from './support/copy-plugin.js';
import { checkLeaksAfterEach } from './support/leaks.js';
import { spyOnProviders } from './support/provider-spy.js';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'bp-host-vm-'));
});
checkLeaksAfterEach({ beforeEach, afterEach }, () => rmSync(dir, { recursive: true, force: true }));

async function qemuIo(image: string, format: string, command: string): Promise<void> {
  await execa('qemu-io', ['-f', format, '-c', command, image]);
}

async function compare(a: string, b: string): Promise<void> {
  await execa('qemu-img', ['compare', a, b]); // exit 1 = differ: throws
}

async function backupOneVm(mechanism: 'nbd' | 'file-handle' = 'nbd'): Promise<{ storage: BackupStorage<{ path: string; mechanism: 'nbd' | 'file-handle' }>; volid: string; disk: string; efi: string }> {
  const disk = join(dir, 'disk.qcow2');
  const efi = join(dir, 'efi.raw');
  await execa('qemu-img', ['create', '-q', '-f', 'qcow2', disk, '64M']);
  await qemuIo(disk, 'qcow2', 'write -P 0xaa 0 1M');
  await qemuIo(disk, 'qcow2', 'write -P 0x55 20M 4M');
  await execa('qemu-img', ['create', '-q', '-f', 'raw', efi, '1M']);
  await qemuIo(efi, 'raw', 'write -P 0x11 0 64k');
  const storePath = join(dir, 'store');
  mkdirSync(storePath);
  const storage = copyPlugin.open('copy', { path: storePath, mechanism });
  const guest: VmGuestSpec = {
    type: 'qemu',
    vmid: 100,
    config: 'name: test\nscsi0: local:100/disk.qcow2,size=64M\nefidisk0: local:100/efi.raw,size=1M\n',
    source: { kind: 'images', disks: [{ virtdev: 'scsi0', image: disk, format: 'qcow2' }, { virtdev: 'efidisk0', image: efi, format: 'raw' }] },
    firewallConfig: '[OPTIONS]\nenable: 1\n',
  };
  const lines: string[] = [];
  const result = await runBackupJob({ storage, guests: [guest], options: { logDir: join(dir, 'logs'), tmpDir: dir }, log: (_level, message) => lines.push(message) });
  expect(result.guests[0]!.error).toBeUndefined();
  expect(result.ok).toBe(true);
  // Each disk's dirty-bitmap status appears once in the task log.
  expect(lines.filter((line) => /^drive-\w+: dirty-bitmap status: /.test(line)).sort()).toEqual([
    'drive-efidisk0: dirty-bitmap status: created new',
    'drive-scsi0: dirty-bitmap status: created new',
  ]);
  return { storage, volid: result.guests[0]!.volid!, disk, efi };
}

describe('VM backup through real QEMU snapshot access, restore through qemu-img', () => {
  it.each(['nbd', 'file-handle'] as const)('backs up a qcow2 + raw VM over %s and restores it byte-identical', async (mechanism) => {
    const { storage, volid, disk, efi } = await backupOneVm(mechanism);
    const stored = join(storage.config.path, volid.replace(/^copy:backup\//, ''));
    await compare(disk, join(stored, 'drive-scsi0.qcow2'));
    await compare(efi, join(stored, 'drive-efidisk0.qcow2'));
    expect(readFileSync(join(stored, 'guest.conf'), 'utf8')).toContain('#qmdump#map:scsi0:drive-scsi0:local:qcow2:\n');

    const target = join(dir, 'restored');
    mkdirSync(target);
    const restored = await restoreVm({ storage, volid, targetDir: target, bwlimitKiB: 1024 * 1024 });
    expect(restored.firewallConfig).toBe('[OPTIONS]\nenable: 1\n');
    expect(restored.disks.map((d) => [d.virtdev, d.device, d.format, d.size])).toEqual([
      ['efidisk0', 'drive-efidisk0', 'raw', 1024 * 1024],
      ['scsi0', 'drive-scsi0', 'qcow2', 64 * 1024 * 1024],
    ]);
    await compare(disk, join(target, 'scsi0.qcow2'));
    await compare(efi, join(target, 'efidisk0.raw'));
  });

  it('restores an incremental qcow2 chain exactly as the chain reads', async () => {
    const { storage, volid } = await backupOneVm();
    const baseName = volid.replace(/^copy:backup\//, '');
    const [vmid, base] = baseName.split('/') as [string, string];
    const topName = `${vmid}/qemu-${Number(base.split('-')[1]) + 1}`;
    const topDir = join(storage.config.path, topName);
    mkdirSync(topDir);
    writeFileSync(join(topDir, 'guest.conf'), readFileSync(join(storage.config.path, baseName, 'guest.conf')));
    for (const device of ['drive-scsi0', 'drive-efidisk0']) {
      const overlay = join(topDir, `${device}.qcow2`);
      await execa('qemu-img', ['create', '-q', '-f', 'qcow2', '-b', `../${base}/${device}.qcow2`, '-F', 'qcow2', overlay]);
    }
    await qemuIo(join(topDir, 'drive-scsi0.qcow2'), 'qcow2', 'write -P 0x77 30M 8M');
    await qemuIo(join(topDir, 'drive-scsi0.qcow2'), 'qcow2', 'write -z 0 64k');

    const target = join(dir, 'restored');
    mkdirSync(target);
    const restored = await restoreVm({ storage, volid: `copy:backup/${topName}`, targetDir: target, format: 'raw' });
    expect(restored.disks.map((d) => d.path)).toEqual([join(target, 'efidisk0.raw'), join(target, 'scsi0.raw')]);
    await compare(join(topDir, 'drive-scsi0.qcow2'), join(target, 'scsi0.raw'));
    await compare(join(topDir, 'drive-efidisk0.qcow2'), join(target, 'efidisk0.raw'));
    await expect(compare(join(storage.config.path, baseName, 'drive-scsi0.qcow2'), join(target, 'scsi0.raw'))).rejects.toThrow();
  });
});

describe('restoreVm call order and failures (spec 1.4)', () => {
  it('calls the early check on object #2, the restore on object #1 in spec order', async () => {
    const { storage, volid } = await backupOneVm();
    const calls: string[] = [];
    const target = join(dir, 'restored');
    mkdirSync(target);
    await restoreVm({ storage: spyOnProviders(storage, {}, calls), volid, targetDir: target });
    expect(calls).toEqual([
      'new',
      'new',
      '#2.archiveGetGuestConfig',
      '#1.restoreGetMechanism',
      '#1.restoreVmInit',
      '#1.archiveGetGuestConfig',
      '#1.archiveGetFirewallConfig',
      '#1.restoreVmVolumeInit(drive-efidisk0)',
      '#1.restoreVmVolumeCleanup(drive-efidisk0)',
      '#1.restoreVmVolumeInit(drive-scsi0)',
      '#1.restoreVmVolumeCleanup(drive-scsi0)',
      '#1.restoreVmCleanup',
    ]);
  });

  it('a device missing from restoreVmInit fails before any image is created; cleanup still runs', async () => {
    const { storage, volid } = await backupOneVm();
    const calls: string[] = [];
    const target = join(dir, 'restored');
    mkdirSync(target);
    const wrapped = spyOnProviders(storage, { restoreVmInit: async () => ({ 'drive-scsi0': { size: 1024 } }) }, calls);
    await expect(restoreVm({ storage: wrapped, volid, targetDir: target })).rejects.toThrow("archive does not contain data for drive 'efidisk0'");
    expect(calls.at(-1)).toBe('#1.restoreVmCleanup');
    expect(readdirSync(target)).toEqual([]);
  });

  it('refuses a source path that does not stat (e.g. a URI), removes the created images, still cleans up the volume', async () => {
    const { storage, volid } = await backupOneVm();
    const calls: string[] = [];
    const target = join(dir, 'restored');
    mkdirSync(target);
    const wrapped = spyOnProviders(storage, { restoreVmVolumeInit: async () => ({ qemuImgPath: 'nbd+unix:///x?socket=/nonexistent' }) }, calls);
    await expect(restoreVm({ storage: wrapped, volid, targetDir: target })).rejects.toMatchObject({ code: 'BP_UNSAFE_IMAGE' });
    expect(calls.slice(-3)).toEqual(['#1.restoreVmVolumeInit(drive-efidisk0)', '#1.restoreVmVolumeCleanup(drive-efidisk0)', '#1.restoreVmCleanup']);
    expect(readdirSync(target)).toEqual([]);
  });

  it('refuses to overwrite an existing target image and leaves it alone', async () => {
    const { storage, volid } = await backupOneVm();
    const target = join(dir, 'restored');
    mkdirSync(target);
    writeFileSync(join(target, 'scsi0.qcow2'), 'mine');
    await expect(restoreVm({ storage, volid, targetDir: target })).rejects.toMatchObject({ code: 'BP_ALREADY_EXISTS' });
    expect(readdirSync(target)).toEqual(['scsi0.qcow2']);
    expect(readFileSync(join(target, 'scsi0.qcow2'), 'utf8')).toBe('mine');
    expect(existsSync(join(storage.config.path, `.restore-${process.pid}`))).toBe(false);
  });
});

describe('VM restore with bp itself as the host (standalone)', () => {
  /** Overrides that serve each stored device as a read-only NBD export, stopped at volume cleanup. */
  function exportingProvider(storage: BackupStorage<{ path: string }>, volid: string, servers: Map<string, QemuNbdServer>) {
    const stored = join(storage.config.path, volid.replace(/^copy:backup\//, ''));
    return {
      restoreVmVolumeExport: async (_volname: string, device: string) => {
        const server = await startQemuNbd({ image: join(stored, `${device}.qcow2`), format: 'qcow2', readOnly: true });
        servers.set(device, server);
        return { nbdUri: server.uri };
      },
      restoreVmVolumeCleanup: async (_volname: string, device: string) => {
        await servers.get(device)?.stop();
        servers.delete(device);
      },
    };
  }

  it("reads every device from the provider's NBD export instead of its file view, byte-identical, and releases it", async () => {
    const { storage, volid, disk, efi } = await backupOneVm();
    const servers = new Map<string, QemuNbdServer>();
    const calls: string[] = [];
    const target = join(dir, 'restored');
    mkdirSync(target);
    const restored = await restoreVm({ storage: spyOnProviders(storage, exportingProvider(storage, volid, servers), calls), volid, targetDir: target, format: 'qcow2', standalone: true });
    expect(restored.disks.map((entry) => entry.virtdev)).toEqual(['efidisk0', 'scsi0']);
    await compare(disk, join(target, 'scsi0.qcow2'));
    await compare(efi, join(target, 'efidisk0.qcow2'));
    expect(calls.filter((call) => call.includes('restoreVmVolume'))).toEqual([
      '#1.restoreVmVolumeExport(drive-efidisk0)',
      '#1.restoreVmVolumeCleanup(drive-efidisk0)',
      '#1.restoreVmVolumeExport(drive-scsi0)',
      '#1.restoreVmVolumeCleanup(drive-scsi0)',
    ]);
    expect(servers.size).toBe(0);
  });

  it('keeps exactly PVE\'s calls (restoreVmVolumeInit) unless it is standalone, even when an export is offered', async () => {
    const { storage, volid, disk } = await backupOneVm();
    const servers = new Map<string, QemuNbdServer>();
    const calls: string[] = [];
    const target = join(dir, 'restored');
    mkdirSync(target);
    await restoreVm({ storage: spyOnProviders(storage, exportingProvider(storage, volid, servers), calls), volid, targetDir: target, format: 'qcow2' });
    await compare(disk, join(target, 'scsi0.qcow2'));
    expect(calls.filter((call) => call.includes('restoreVmVolumeExport'))).toEqual([]);
    expect(calls).toContain('#1.restoreVmVolumeInit(drive-scsi0)');
  });

  it('refuses an export without a listening socket, removes the created images, still cleans up the volume', async () => {
    const { storage, volid } = await backupOneVm();
    const calls: string[] = [];
    const target = join(dir, 'restored');
    mkdirSync(target);
    const wrapped = spyOnProviders(storage, { restoreVmVolumeExport: async () => ({ nbdUri: `nbd+unix:///disk?socket=${join(dir, 'no-such.sock')}` }) }, calls);
    await expect(restoreVm({ storage: wrapped, volid, targetDir: target, standalone: true })).rejects.toMatchObject({ code: 'BP_PROVIDER_FAILED' });
    expect(calls.slice(-3)).toEqual(['#1.restoreVmVolumeExport(drive-efidisk0)', '#1.restoreVmVolumeCleanup(drive-efidisk0)', '#1.restoreVmCleanup']);
    expect(readdirSync(target)).toEqual([]);
  });

  it('refuses an export result that is not an nbd+unix URI', async () => {
    const { storage, volid } = await backupOneVm();
    const target = join(dir, 'restored');
    mkdirSync(target);
    const wrapped = spyOnProviders(storage, { restoreVmVolumeExport: async () => ({ nbdUri: 'nbd://example.com/disk' }) }, []);
    await expect(restoreVm({ storage: wrapped, volid, targetDir: target, standalone: true })).rejects.toThrow(/nbd\+unix/);
    expect(readdirSync(target)).toEqual([]);
  });

  it('writes a target on a file system without O_DIRECT (tmpfs) too', async () => {
    const { storage, volid, disk } = await backupOneVm();
    const target = mkdtempSync(join('/dev/shm', 'bp-host-restore-'));
    try {
      await restoreVm({ storage, volid, targetDir: target, format: 'raw', standalone: true });
      await execa('qemu-img', ['compare', '-f', 'qcow2', '-F', 'raw', disk, join(target, 'scsi0.raw')]);
    } finally {
      rmSync(target, { recursive: true, force: true });
    }
  });
});
