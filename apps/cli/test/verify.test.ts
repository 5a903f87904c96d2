import { open, readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BackupResultJson, VerifyJson } from '../src/index.js';
import { createQcow2, writeRandom } from './helpers/images.js';
import { createSandbox, type BpSandbox } from './helpers/run-bp.js';

let bp: BpSandbox;
beforeAll(async () => {
  bp = await createSandbox();
});
afterAll(async () => {
  await bp?.dispose();
});

/** Every regular file below `dir` (the stored backup's files, whatever the provider's layout). */
async function filesBelow(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true, recursive: true });
  return entries.filter((entry) => entry.isFile()).map((entry) => join(entry.parentPath, entry.name));
}

describe('bp verify', () => {
  it('passes an intact backup and fails a damaged one with exit 1', async () => {
    const disk = join(bp.root, 'disk.qcow2');
    await createQcow2(disk, 16);
    await writeRandom(disk, 0, 4);
    const backup = await bp.json<BackupResultJson>(['backup', 'vm', '100', '--disk', `scsi0=${disk}`]);
    const intact = await bp.json<VerifyJson>(['verify', backup.volid]);
    expect(intact).toEqual({ storage: 'local', ok: true, results: [{ volid: backup.volid, ok: true, problems: [] }] });

    // Flip bytes in the middle of the largest stored file: the image holding the random data.
    const files = await filesBelow(join(bp.home, 'storages', 'local'));
    const sizes = await Promise.all(files.map(async (file) => ({ file, size: (await stat(file)).size })));
    const largest = sizes.sort((a, b) => b.size - a.size)[0];
    if (!largest) throw new Error('no stored files');
    const handle = await open(largest.file, 'r+');
    try {
      const offset = Math.floor(largest.size / 2);
      const buffer = Buffer.alloc(64);
      await handle.read(buffer, 0, 64, offset);
      for (let index = 0; index < buffer.length; index += 1) buffer[index] = (buffer[index] ?? 0) ^ 0xff;
      await handle.write(buffer, 0, 64, offset);
    } finally {
      await handle.close();
    }

    const damaged = await bp.run(['verify', backup.volid, '--json']);
    expect(damaged.exitCode).toBe(1);
    const json = JSON.parse(damaged.stdout) as VerifyJson;
    expect(json.ok).toBe(false);
    expect(json.results[0]?.problems.length).toBeGreaterThan(0);
    const text = await bp.run(['verify']);
    expect(text.exitCode).toBe(1);
    expect(text.stdout).toContain(`FAILED  ${backup.volid}`);
    expect(text.stdout).toContain('0 of 1 backups verified.');
  });
});
