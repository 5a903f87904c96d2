import { createHash } from 'node:crypto';
import { mkdir, open, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { extractTarArchive, scanTarArchive } from '../src/index.js';
import { parseListingLine } from '../src/tar/list-tar.js';
import { temporaryDirectory } from './helpers.js';

let work: { path: string; cleanup: () => Promise<void> };
beforeEach(async () => {
  work = await temporaryDirectory('scan');
});
afterEach(async () => {
  await work.cleanup();
});

/** A file of `size` bytes with 4 KiB of data at each of `offsets`, holes elsewhere. */
async function sparseFile(path: string, size: number, offsets: readonly number[]): Promise<void> {
  const file = await open(path, 'w');
  for (const [index, offset] of offsets.entries()) await file.write(Buffer.alloc(4096, index + 1), 0, 4096, offset);
  await file.truncate(size);
  await file.close();
}

const sha256 = async (path: string): Promise<string> => createHash('sha256').update(await readFile(path)).digest('hex');

describe('the safety scan of untrusted archives', () => {
  // GNU tar's default format stores a sparse file as an old GNU sparse member ('S'): up to four
  // data segments in the header, more in extension headers that follow it.
  it.each([
    ['one data segment', [0]],
    ['four data segments', [0, 65536, 131072, 196608]],
    ['twelve data segments (extension headers)', Array.from({ length: 12 }, (_, index) => index * 65536)],
  ])('accepts GNU-format sparse files with %s, and they extract byte-identical with their holes', async (_name, offsets) => {
    const source = join(work.path, 'source');
    await mkdir(source);
    await sparseFile(join(source, 'sparse.img'), 16 * 1024 * 1024, offsets);
    await writeFile(join(source, 'after'), 'member after the sparse one\n');
    const archive = join(work.path, 'gnu.tar');
    await execa('tar', ['--format=gnu', '--sparse', '-cf', archive, '-C', source, '.']);
    expect(await scanTarArchive(archive, { compression: 'none' })).toEqual({ members: 3, unsafe: [] });
    const target = join(work.path, 'target');
    await mkdir(target);
    await extractTarArchive({ archive, target });
    expect(await sha256(join(target, 'sparse.img'))).toBe(await sha256(join(source, 'sparse.img')));
    expect(await readFile(join(target, 'after'), 'utf8')).toBe('member after the sparse one\n');
    expect((await stat(join(target, 'sparse.img'))).blocks * 512).toBeLessThan(4 * 1024 * 1024);
  });

  it('sees names byte for byte: quotes, arrows, newlines and non-UTF-8 bytes in names', async () => {
    const source = join(work.path, 'source');
    await mkdir(join(source, 'sbin'), { recursive: true });
    const names = ['we"ird -> name', 'line\nbreak', 'tab\there', ' link to x', 'grüße 中'];
    for (const name of names) await writeFile(join(source, name), 'x');
    // A Latin-1 name: not valid UTF-8.
    await writeFile(Buffer.concat([Buffer.from(join(source, 'latin1-')), Buffer.from([0xe9])]), 'x');
    const archive = join(work.path, 'names.tar');
    await execa('tar', ['-cf', archive, '-C', source, '.']);
    const scan = await scanTarArchive(archive, { compression: 'none' });
    expect(scan).toEqual({ members: names.length + 3, unsafe: [] });
  });

  it('parses the listing lines of every member kind, and refuses what is no member line', () => {
    const at = { uid: 0, gid: 0, mtime: '2026-01-01T00:00:00.000Z' };
    expect(parseListingLine('-rw-r--r-- 0/0 5 2026-01-01 00:00:00 "./a \\"b\\" -> c"')).toEqual({ ...at, type: 'file', name: './a "b" -> c', mode: 0o644, size: 5 });
    expect(parseListingLine('lrwxrwxrwx 0/0 0 2026-01-01 00:00:00 "./l" -> "/etc"')).toEqual({ ...at, type: 'symlink', name: './l', target: '/etc', mode: 0o777, size: 0 });
    expect(parseListingLine('hrw-r--r-- 0/0 0 2026-01-01 00:00:00 "./h" link to "../../x"')).toEqual({ ...at, type: 'hardlink', name: './h', target: '../../x', mode: 0o644, size: 0 });
    expect(parseListingLine('-rwsr-sr-T 100000/100001 1 1999-12-31 23:59:59 "./\\344\\270\\255\\001\\n"')).toEqual({
      type: 'file', name: './中\u0001\n', mode: 0o7754, uid: 100_000, gid: 100_001, size: 1, mtime: '1999-12-31T23:59:59.000Z',
    });
    expect(parseListingLine('crw-r--r-- 0/0 1,3 2026-01-01 00:00:00 "./null"')).toEqual({ ...at, type: 'char-device', name: './null', mode: 0o644, size: 0 });
    expect(parseListingLine('drwxrwxrwt 0/0 0 2026-01-01 00:00:00 "./tmp/"')).toMatchObject({ type: 'directory', mode: 0o1777 });
    expect(parseListingLine('V--------- 0/0 0 2026-01-01 00:00:00 "label"--Volume Header--')).toMatchObject({ type: 'volume-label', name: 'label' });
    expect(parseListingLine('?rw-r--r-- 0/0 0 2026-01-01 00:00:00 "./odd"')).toMatchObject({ type: 'unknown' });
    expect(parseListingLine('-rw-r--r-- 0/0 5 2026-01-01 00:00:00 "./unterminated')).toBeUndefined();
    expect(parseListingLine('-rw-r--r-- 0/0 5 2026-01-01 00:00:00 "./a" trailing')).toBeUndefined();
    expect(parseListingLine('-rw-r--r-- 0/0 5 2026-01-01 00:00:00 "./l" -> "unterminated')).toBeUndefined();
    expect(parseListingLine('tar: something else')).toBeUndefined();
  });
});
