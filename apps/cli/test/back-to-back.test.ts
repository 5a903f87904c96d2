import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BackupResultJson, ListJson } from '../src/index.js';
import { createQcow2, writeRandom } from './helpers/images.js';
import { createSandbox, type BpSandbox } from './helpers/run-bp.js';

let bp: BpSandbox;
beforeAll(async () => {
  bp = await createSandbox();
});
afterAll(async () => {
  await bp?.dispose();
});

// Archive names carry their start second, and a small backup takes less than a second: a script
// running `bp backup` again at once must not be refused with BP_ALREADY_EXISTS.
describe('backups of one guest back to back', () => {
  it('all succeed, each under its own name', async () => {
    const disk = join(bp.root, 'disk.qcow2');
    await createQcow2(disk, 16);
    await writeRandom(disk, 0, 1);
    const volids: string[] = [];
    for (const mode of ['full', 'incremental', 'incremental', 'incremental']) {
      volids.push((await bp.json<BackupResultJson>(['backup', 'vm', '100', '--disk', `scsi0=${disk}`, '--mode', mode])).volid);
    }
    expect(new Set(volids).size).toBe(4);
    expect((await bp.json<ListJson>(['list', '100'])).backups.map((backup) => backup.volid).sort()).toEqual([...volids].sort());
  });
});
