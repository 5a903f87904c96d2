import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BackupResultJson, ListJson } from '../src/index.js';
import { createQcow2, writeRandom } from './helpers/images.js';
import { createSandbox, type BpSandbox } from './helpers/run-bp.js';

let bp: BpSandbox;
let disk: string;
beforeAll(async () => {
  bp = await createSandbox();
  disk = join(bp.root, 'disk.qcow2');
  await createQcow2(disk, 16);
  await writeRandom(disk, 0, 1);
});
afterAll(async () => {
  await bp?.dispose();
});

/** Archive names carry the start second: keep backups of one guest in different seconds. */
const nextSecond = (): Promise<void> => new Promise((resolve) => setTimeout(resolve, 1100));

describe('backup options', () => {
  it('--protected, --notes and --prune act on the new backup and the guest history', async () => {
    const first = await bp.json<BackupResultJson>(['backup', 'vm', '100', '--disk', `scsi0=${disk}`, '--mode', 'full', '--protected', '--notes', 'keep me']);
    expect(first).toMatchObject({ protected: true, notes: 'keep me', pruned: [] });
    await nextSecond();
    const second = await bp.json<BackupResultJson>(['backup', 'vm', '100', '--disk', `scsi0=${disk}`, '--mode', 'full']);
    await nextSecond();
    const third = await bp.json<BackupResultJson>(['backup', 'vm', '100', '--disk', `scsi0=${disk}`, '--mode', 'full', '--prune', 'keep-last=1']);
    // keep-last=1 keeps the newest; the protected first one survives, the second goes.
    expect(third.pruned).toEqual([second.volid]);
    const list = await bp.json<ListJson>(['list', '100']);
    expect(list.backups.map((backup) => [backup.volid, backup.protected])).toEqual([
      [first.volid, true],
      [third.volid, false],
    ]);
  });

  it('rejects bad option values before anything runs (exit 2, nothing stored)', async () => {
    const before = await bp.json<ListJson>(['list']);
    for (const args of [
      ['--bwlimit', 'fast'],
      ['--prune', 'keep-sometimes=3'],
      ['--mechanism', 'carrier-pigeon'],
    ]) {
      const result = await bp.run(['backup', 'vm', '100', '--disk', `scsi0=${disk}`, ...args]);
      expect(result.exitCode, result.stderr).toBe(2);
      expect(result.stderr).toMatch(/^bp: BP_INVALID_(ARGUMENT|CONFIG): /);
    }
    expect(await bp.json<ListJson>(['list'])).toEqual(before);
  });
});
