import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BackupResultJson, ProgressEventJson } from '../src/index.js';
import { stat } from 'node:fs/promises';
import { createSampleTree } from '../src/demo/sample-tree.js';
import { createQcow2, writeRandom } from './helpers/images.js';
import { createSandbox, type BpSandbox } from './helpers/run-bp.js';

const MiB = 1024 * 1024;
let bp: BpSandbox;
let disk: string;
beforeAll(async () => {
  bp = await createSandbox();
  disk = join(bp.root, 'disk.qcow2');
  await createQcow2(disk, 16);
  await writeRandom(disk, 3, 1);
});
afterAll(async () => {
  await bp?.dispose();
});

/** Archive names carry the start second: keep backups of one guest in different seconds. */
const nextSecond = (): Promise<void> => new Promise((resolve) => setTimeout(resolve, 1100));

function progressEvents(stderr: string): ProgressEventJson[] {
  return stderr
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as ProgressEventJson)
    .filter((event) => event.type === 'progress');
}

describe('progress and exit of a backup', () => {
  it.each([
    ['nbd', 16 * MiB, 16 * MiB],
    // bp's host announces only allocated data on file-handle; the provider cannot know a total.
    ['file-handle', MiB, null],
  ] as const)('backup vm --json over %s writes the provider byte progress to stderr, stdout stays one document', async (mechanism, done, total) => {
    await nextSecond();
    const run = await bp.run(['backup', 'vm', '100', '--disk', `scsi0=${disk}`, '--mode', 'full', '--mechanism', mechanism, '--json']);
    expect(run.exitCode, run.stderr).toBe(0);
    const result = JSON.parse(run.stdout) as BackupResultJson;
    expect(result.bytesCopied).toBe(MiB);
    const events = progressEvents(run.stderr);
    expect(events.length).toBeGreaterThan(0);
    expect(events.every((event) => event.vmid === 100 && event.device === 'drive-scsi0')).toBe(true);
    const dones = events.map((event) => event.bytesDone);
    expect(dones).toEqual([...dones].sort((a, b) => a - b));
    expect(events.at(-1)).toMatchObject({ bytesDone: done, bytesTotal: total, guestBytesDone: done });
  });

  it('backup ct --json reports the bytes of the archive as it is written (relayed from the unprivileged child)', async () => {
    const rootfs = join(bp.root, 'rootfs-200');
    await createSampleTree(rootfs, { idOffset: 100000 });
    const run = await bp.run(['backup', 'ct', '200', '--rootfs', rootfs, '--json']);
    expect(run.exitCode, run.stderr).toBe(0);
    const result = JSON.parse(run.stdout) as BackupResultJson;
    const events = progressEvents(run.stderr);
    expect(events.length).toBeGreaterThan(0);
    expect(events.every((event) => event.vmid === 200 && event.device === null)).toBe(true);
    const archive = join(bp.home, 'storages', 'local', result.volid.replace(/^local:backup\//, ''), 'archive.tar');
    expect(events.at(-1)?.bytesDone).toBe((await stat(archive)).size);
  });

  it('--no-progress keeps stderr free of progress lines', async () => {
    await nextSecond();
    const run = await bp.run(['backup', 'vm', '100', '--disk', `scsi0=${disk}`, '--mode', 'full', '--json', '--no-progress']);
    expect(run.exitCode, run.stderr).toBe(0);
    expect(progressEvents(run.stderr)).toEqual([]);
  });

  it.each(['nbd', 'file-handle'])('leaves nothing that keeps the process alive once backup vm over %s returned', async (mechanism) => {
    await nextSecond();
    const fixture = fileURLToPath(new URL('./fixtures/run-then-report.mjs', import.meta.url));
    const result = await execa('node', [fixture, 'backup', 'vm', '100', '--disk', `scsi0=${disk}`, '--mode', 'full', '--mechanism', mechanism, '--json'], {
      env: bp.env,
      cwd: bp.root,
      timeout: 120_000,
    });
    const report = JSON.parse(result.stdout.trim().split('\n').at(-1) ?? '{}') as { exitCode: number; resources: string[] };
    expect(report.exitCode, result.stderr).toBe(0);
    // Only this process's own stdio may remain: no timer, no child process, no socket.
    expect(report.resources.filter((kind) => kind !== 'PipeWrap' && kind !== 'TTYWrap')).toEqual([]);
  });
});
