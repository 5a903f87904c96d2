import { access } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ListJson } from '../src/index.js';
import { createQcow2, writeRandom } from './helpers/images.js';
import { mountsUnder, processesMentioning, waitFor } from './helpers/processes.js';
import { createSandbox, type BpSandbox } from './helpers/run-bp.js';

let bp: BpSandbox;
let disk: string;

beforeAll(async () => {
  bp = await createSandbox();
  disk = join(bp.root, 'disk.qcow2');
  await createQcow2(disk, 64);
  await writeRandom(disk, 0, 32);
});
afterAll(async () => {
  await bp?.dispose();
});

describe('Ctrl-C during a backup', () => {
  it('aborts cleanly: exit 130, nothing listed, no helper process or mount left', async () => {
    // 32 MiB at 1 MiB/s: the copy is still running when SIGINT arrives.
    const child = bp.spawn(['backup', 'vm', '100', '--disk', `scsi0=${disk}`, '--bwlimit', '1M']);
    // The host's helpers (qemu-storage-daemon, nbdfuse) work under TMPDIR, i.e. inside the sandbox.
    const started = await waitFor(async () => (await processesMentioning(bp.tmp)).length > 0, 60_000);
    expect(started).toBe(true);
    await new Promise((resolve) => setTimeout(resolve, 2000));
    child.kill('SIGINT');
    const result = await child;
    expect(result.exitCode).toBe(130);
    expect(String(result.stderr)).toContain('SIGINT received, aborting');
    expect(String(result.stderr)).toMatch(/bp: BP_\w+: /);
    expect(String(result.stderr)).not.toMatch(/\n\s+at /);
    expect(await processesMentioning(bp.root)).toEqual([]);
    expect(await mountsUnder(bp.root)).toEqual([]);
    const list = await bp.json<ListJson>(['list']);
    expect(list.backups).toEqual([]);
  });

  it('aborts a restore cleanly: exit 130, the target removed, no helper process left', async () => {
    const backup = await bp.json<{ volid: string }>(['backup', 'vm', '100', '--disk', `scsi0=${disk}`]);
    const target = join(bp.root, 'restored');
    const child = bp.spawn(['restore', backup.volid, '--to', target, '--bwlimit', '1M']);
    // qemu-img convert names the target image on its command line.
    const started = await waitFor(async () => (await processesMentioning(target)).length > 0, 60_000);
    expect(started).toBe(true);
    await new Promise((resolve) => setTimeout(resolve, 1500));
    child.kill('SIGINT');
    const result = await child;
    expect(result.exitCode).toBe(130);
    expect(String(result.stderr)).not.toMatch(/\n\s+at /);
    expect(await processesMentioning(bp.root)).toEqual([]);
    expect(await mountsUnder(bp.root)).toEqual([]);
    await expect(access(target)).rejects.toThrow();
  });
});
