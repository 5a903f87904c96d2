import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { BpError } from '@bp/api/errors';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';
import { startQemuNbd } from './qemu-nbd.js';
import { processExists, qemuImgCreate, readImageBytes, useScratchDir } from './test-support.js';

/** SIGKILLed children of an exited parent are reaped by init a moment later. */
async function waitUntilGone(pid: number): Promise<void> {
  for (let attempt = 0; attempt < 400 && processExists(pid); attempt++) await new Promise((resolve) => setTimeout(resolve, 25));
  expect(processExists(pid)).toBe(false);
}

describe('startQemuNbd', () => {
  const scratch = useScratchDir('bp-qemu-nbd-test');

  it('serves a qcow2 that qemu-io writes through and the image holds afterwards', async () => {
    const image = join(scratch.dir, 'disk.qcow2');
    await qemuImgCreate(image, 'qcow2', 4 * 1024 * 1024);
    const server = await startQemuNbd({ image, format: 'qcow2', exportName: 'drive-scsi0', cache: 'writeback' });
    try {
      expect(server.uri).toBe(`nbd+unix:///drive-scsi0?socket=${server.socketPath}`);
      await execa('qemu-io', ['-f', 'raw', '-c', 'write -P 0xab 65536 131072', '-c', 'write -P 0x11 3145728 4096', server.uri]);
      const { stdout } = await execa('nbdinfo', ['--size', server.uri]);
      expect(stdout.trim()).toBe(String(4 * 1024 * 1024));
    } finally {
      await server.stop();
    }
    const expected = Buffer.alloc(4 * 1024 * 1024);
    expected.fill(0xab, 65536, 65536 + 131072);
    expected.fill(0x11, 3145728, 3145728 + 4096);
    const actual = await readImageBytes(image, 'qcow2', scratch.dir);
    expect(actual.equals(expected)).toBe(true);
  });

  it('refuses writes on a read-only export', async () => {
    const image = join(scratch.dir, 'ro.raw');
    await qemuImgCreate(image, 'raw', 1024 * 1024);
    await using server = await startQemuNbd({ image, format: 'raw', readOnly: true });
    const result = await execa('qemu-io', ['-f', 'raw', '-c', 'write -P 0x1 0 4096', server.uri], { reject: false });
    expect(`${result.stdout}${result.stderr}`).toMatch(/not permitted|read-only|Permission denied/i);
    expect(result.exitCode).not.toBe(0);
    const actual = await readImageBytes(image, 'raw', scratch.dir);
    expect(actual.equals(Buffer.alloc(1024 * 1024))).toBe(true);
  });

  it('rejects with BP_QEMU_FAILED and qemu-nbd stderr when the image cannot be opened, leaving nothing behind', async () => {
    const missing = join(scratch.dir, 'missing.qcow2');
    const error = await startQemuNbd({ image: missing, format: 'qcow2' }).catch((caught: unknown) => caught);
    expect(BpError.hasCode(error, 'BP_QEMU_FAILED')).toBe(true);
    expect((error as BpError).message).toContain('missing.qcow2');
    expect(String((error as BpError).details.stderr)).toMatch(/Could not open|No such file/);
  });

  it('rejects contradictory options before starting anything', async () => {
    const error = await startQemuNbd({ image: '/nonexistent', format: 'raw', detectZeroes: 'unmap' }).catch((caught: unknown) => caught);
    expect(BpError.hasCode(error, 'BP_INVALID_ARGUMENT')).toBe(true);
  });

  it('stops the server and removes its directory when the caller throws inside a using block', async () => {
    const image = join(scratch.dir, 'leak.raw');
    await qemuImgCreate(image, 'raw', 1024 * 1024);
    let pid = 0;
    let dir = '';
    const failing = async (): Promise<void> => {
      await using server = await startQemuNbd({ image, format: 'raw' });
      pid = server.pid;
      dir = join(server.socketPath, '..');
      expect(processExists(pid)).toBe(true);
      expect(existsSync(server.socketPath)).toBe(true);
      throw new Error('caller failure');
    };
    await expect(failing()).rejects.toThrow('caller failure');
    expect(pid).toBeGreaterThan(0);
    expect(processExists(pid)).toBe(false);
    expect(existsSync(dir)).toBe(false);
  });

  it.each(['exit', 'SIGTERM', 'SIGINT'] as const)('kills servers a process forgot to stop when that process ends (%s)', async (ending) => {
    const image = join(scratch.dir, 'forgotten.raw');
    await qemuImgCreate(image, 'raw', 1024 * 1024);
    const fixtures = fileURLToPath(new URL('./fixtures/', import.meta.url));
    const child = execa('node', ['--import', 'tsx', join(fixtures, 'exit-without-stop.ts'), image, ending === 'exit' ? 'exit' : 'wait'], {
      env: { TSX_TSCONFIG_PATH: join(fixtures, 'tsconfig.json') },
      reject: false,
    });
    const line = await new Promise<string>((resolve, reject) => {
      child.stdout.once('data', (chunk: Buffer) => resolve(chunk.toString()));
      void child.then((result) => reject(new Error(`fixture ended early: ${String(result.stderr)}`)));
    });
    const { pids, dirs } = JSON.parse(line) as { pids: number[]; dirs: string[] };
    if (ending !== 'exit') child.kill(ending);
    const result = await child;
    if (ending !== 'exit') expect(result.signal).toBe(ending);
    expect(pids).toHaveLength(2);
    for (const pid of pids) await waitUntilGone(pid);
    for (const dir of dirs) expect(existsSync(dir)).toBe(false);
  });

  it('leaves no timer or handle behind once stopped, so the caller exits as soon as its work is done', async () => {
    const image = join(scratch.dir, 'stopped.raw');
    await qemuImgCreate(image, 'raw', 1024 * 1024);
    const fixtures = fileURLToPath(new URL('./fixtures/', import.meta.url));
    const result = await execa('node', ['--import', 'tsx', join(fixtures, 'stop-then-report.ts'), image], {
      env: { TSX_TSCONFIG_PATH: join(fixtures, 'tsconfig.json') },
    });
    const { resources } = JSON.parse(result.stdout.trim().split('\n').at(-1) ?? '{}') as { resources: string[] };
    // Only the stdio pipes to this test may remain; no Timeout, no child process, no socket.
    expect(resources.filter((kind) => kind !== 'PipeWrap' && kind !== 'TTYWrap')).toEqual([]);
  });

  it('stops the server when its AbortSignal fires after start', async () => {
    const image = join(scratch.dir, 'abort.raw');
    await qemuImgCreate(image, 'raw', 1024 * 1024);
    const controller = new AbortController();
    const server = await startQemuNbd({ image, format: 'raw', signal: controller.signal });
    controller.abort();
    await server.stop();
    expect(processExists(server.pid)).toBe(false);
    expect(existsSync(server.socketPath)).toBe(false);
  });

  it('rejects with BP_ABORTED when the signal is already aborted', async () => {
    const error = await startQemuNbd({ image: '/nonexistent', format: 'raw', signal: AbortSignal.abort() }).catch((caught: unknown) => caught);
    expect(BpError.hasCode(error, 'BP_ABORTED')).toBe(true);
  });
});
