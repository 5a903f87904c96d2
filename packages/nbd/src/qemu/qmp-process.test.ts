import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { BpError } from '@bp/api/errors';
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';
import { startQmpProcess } from './qmp-process.js';
import { startQemuSystem } from './qemu-system.js';
import { startStorageDaemon } from './storage-daemon.js';
import { processExists, qemuImgCreate, useScratchDir } from './test-support.js';

const MiB = 1024 * 1024;

describe('startStorageDaemon', () => {
  const scratch = useScratchDir('bp-qsd-test');

  it('exports a qcow2 with a persistent dirty bitmap that records writes made through the export', async () => {
    const image = join(scratch.dir, 'disk.qcow2');
    await qemuImgCreate(image, 'qcow2', 16 * MiB);
    await using daemon = await startStorageDaemon();
    const { qmp } = daemon;
    await qmp.execute('blockdev-add', { driver: 'file', 'node-name': 'file0', filename: image });
    await qmp.execute('blockdev-add', { driver: 'qcow2', 'node-name': 'disk0', file: 'file0' });
    const nodes = await qmp.execute<{ 'node-name': string; drv: string }[]>('query-named-block-nodes');
    expect(nodes.find((node) => node['node-name'] === 'disk0')?.drv).toBe('qcow2');

    await qmp.execute('block-dirty-bitmap-add', { node: 'disk0', name: 'b0', persistent: true, granularity: 65536 });
    const socket = join(daemon.dir, 'nbd.sock');
    await qmp.execute('nbd-server-start', { addr: { type: 'unix', data: { path: socket } } });
    await qmp.execute('block-export-add', { type: 'nbd', id: 'drive-scsi0', name: 'drive-scsi0', 'node-name': 'disk0', writable: true, bitmaps: ['b0'] });
    const uri = `nbd+unix:///drive-scsi0?socket=${socket}`;

    await execa('qemu-io', ['-f', 'raw', '-c', `write -P 0x5a ${String(MiB)} ${String(2 * MiB)}`, '-c', `write -P 0x1 ${String(10 * MiB)} 4096`, uri]);
    const { stdout } = await execa('nbdinfo', ['--map=qemu:dirty-bitmap:b0', uri]);
    const dirty = stdout
      .trim()
      .split('\n')
      .map((line) => line.trim().split(/\s+/).map(Number))
      .filter(([, , type]) => ((type ?? 0) & 1) === 1)
      .map(([offset, length]) => [offset, length]);
    expect(dirty).toEqual([
      [MiB, 2 * MiB],
      [10 * MiB, 65536],
    ]);

    // A clean stop (SIGTERM) lets the daemon store the persistent bitmap in the image.
    await daemon.stop();
    const info = JSON.parse((await execa('qemu-img', ['info', '--output=json', image])).stdout) as {
      'format-specific': { data: { bitmaps?: { name: string; flags: string[] }[] } };
    };
    expect(info['format-specific'].data.bitmaps?.map((bitmap) => bitmap.name)).toEqual(['b0']);
  });

  it('turns a QMP error into BP_QMP_ERROR with class and desc', async () => {
    await using daemon = await startStorageDaemon();
    const error = await daemon.qmp.execute('no-such-command').catch((caught: unknown) => caught);
    expect(BpError.hasCode(error, 'BP_QMP_ERROR')).toBe(true);
    expect((error as BpError).details).toMatchObject({ command: 'no-such-command', class: 'CommandNotFound' });
    // The connection stays usable after an error.
    await expect(daemon.qmp.execute('query-named-block-nodes')).resolves.toEqual([]);
  });

  it('rejects pending commands and waiters with a coded error when the process dies', async () => {
    const daemon = await startStorageDaemon();
    try {
      const waiting = daemon.qmp.waitForEvent('NEVER_SENT');
      process.kill(daemon.pid, 'SIGKILL');
      const error = await waiting.catch((caught: unknown) => caught);
      expect(BpError.hasCode(error, 'BP_QEMU_FAILED')).toBe(true);
      await expect(daemon.qmp.execute('query-version')).rejects.toMatchObject({ code: 'BP_QEMU_FAILED' });
    } finally {
      await daemon.stop();
    }
    expect(existsSync(daemon.dir)).toBe(false);
  });

  it('reports the stderr of a process that closes its monitor and dies during start-up', async () => {
    const standIn = join(import.meta.dirname, 'fixtures', 'monitor-then-die.mjs');
    const error = await startQmpProcess(standIn, (socket) => [socket], {}).catch((caught: unknown) => caught);
    expect(BpError.hasCode(error, 'BP_QEMU_FAILED')).toBe(true);
    expect(String((error as BpError).details.stderr)).toContain('Could not open /nonexistent/bp-missing');
  });

  it('reports start-up failures with the daemon stderr and leaves no directory', async () => {
    const error = await startStorageDaemon({ args: ['--blockdev', 'driver=file,node-name=x,filename=/nonexistent/bp-missing'] }).catch(
      (caught: unknown) => caught,
    );
    expect(BpError.hasCode(error, 'BP_QEMU_FAILED')).toBe(true);
    expect(String((error as BpError).details.stderr)).toMatch(/No such file|Could not open/);
  });

  it('leaves neither process nor directory when the caller throws', async () => {
    let pid = 0;
    let dir = '';
    const failing = async (): Promise<void> => {
      await using daemon = await startStorageDaemon();
      pid = daemon.pid;
      dir = daemon.dir;
      throw new Error('caller failure');
    };
    await expect(failing()).rejects.toThrow('caller failure');
    expect(processExists(pid)).toBe(false);
    expect(existsSync(dir)).toBe(false);
  });
});

describe('startQemuSystem', () => {
  it('runs a guest-less QEMU whose block layer is driven over QMP, with events', async () => {
    await using vm = await startQemuSystem();
    const status = await vm.qmp.execute<{ status: string }>('query-status');
    expect(typeof status.status).toBe('string');
    await vm.qmp.execute('blockdev-add', { driver: 'null-co', 'node-name': 'null0', size: 8 * MiB });
    const nodes = await vm.qmp.execute<{ 'node-name': string }[]>('query-named-block-nodes');
    expect(nodes.map((node) => node['node-name'])).toContain('null0');
    await vm.qmp.execute('block-dirty-bitmap-add', { node: 'null0', name: 'b0' });

    const jobDone = vm.qmp.waitForEvent('JOB_STATUS_CHANGE', (event) => event.data.id === 'j0' && event.data.status === 'concluded', {
      timeoutMs: 60_000,
    });
    await vm.qmp.execute('blockdev-add', { driver: 'null-co', 'node-name': 'null1', size: 8 * MiB });
    await vm.qmp.execute('blockdev-backup', { 'job-id': 'j0', device: 'null0', target: 'null1', sync: 'full' });
    await expect(jobDone).resolves.toMatchObject({ event: 'JOB_STATUS_CHANGE' });
  });
});
