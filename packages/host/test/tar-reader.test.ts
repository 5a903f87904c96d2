import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, open, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { TarReader } from '../src/open-backup/tar-reader.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'bp-tar-reader-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const sha256 = async (path: string): Promise<string> => createHash('sha256').update(await readFile(path)).digest('hex');

describe('browsing a container tar archive', () => {
  it.each(['gnu', 'posix'])('lists and extracts members of a %s-format archive, a sparse file of twelve data segments included', async (format) => {
    const source = join(dir, 'source');
    await mkdir(join(source, 'var', 'log'), { recursive: true });
    const sparse = await open(join(source, 'var', 'log', 'lastlog'), 'w');
    for (let segment = 0; segment < 12; segment++) await sparse.write(Buffer.alloc(4096, segment + 1), 0, 4096, segment * 1024 * 1024);
    await sparse.truncate(16 * 1024 * 1024 + 123);
    await sparse.close();
    await writeFile(join(source, 'var', 'log', 'grüße "x" -> y'), 'odd name\n', { mode: 0o4750 });
    await symlink('lastlog', join(source, 'var', 'log', 'link'));
    const archive = join(dir, 'archive.tar');
    await execa('tar', [`--format=${format}`, '--sparse', '--numeric-owner', '-cf', archive, '-C', source, '.']);

    const reader = new TarReader(archive);
    const listed = await reader.list(['var', 'log']);
    expect(listed.map((entry) => [entry.name, entry.type, entry.size])).toEqual([
      ['grüße "x" -> y', 'file', 9],
      ['lastlog', 'file', 16 * 1024 * 1024 + 123],
      ['link', 'symlink', 0],
    ]);
    expect(listed[0]).toMatchObject({ mode: 0o4750, uid: process.getuid!() });
    expect(listed[0]).not.toHaveProperty('target');
    expect(listed[2]).toMatchObject({ target: 'lastlog' });

    const target = join(dir, 'out');
    await mkdir(target);
    await reader.extract(['var', 'log', 'lastlog'], target);
    expect(await sha256(join(target, 'lastlog'))).toBe(await sha256(join(source, 'var', 'log', 'lastlog')));
  });
});
