import { mkdir, readdir, writeFile } from 'node:fs/promises';
import { createWriteStream } from 'node:fs';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { pack } from 'tar-stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { BpError } from '@bp/api';
import { createTarArchive, extractTarArchive, scanTarArchive } from '../src/index.js';
import { temporaryDirectory } from './helpers.js';

let work: { path: string; cleanup: () => Promise<void> };

beforeEach(async () => {
  work = await temporaryDirectory('tar-failures');
});

afterEach(async () => {
  await work.cleanup();
});

type Member = Parameters<ReturnType<typeof pack>['entry']>[0] & { body?: string };

async function writeArchive(path: string, members: Member[]): Promise<void> {
  const archive = pack();
  const written = pipeline(archive, createWriteStream(path));
  for (const { body, ...header } of members) archive.entry(header, body ?? '');
  archive.finalize();
  await written;
}

const benign: Member[] = [
  { name: './', type: 'directory' },
  { name: './etc/', type: 'directory' },
  { name: './etc/hostname', body: 'ok\n' },
];

describe('creating a tar archive fails cleanly', () => {
  it('reports BP_ARCHIVE_FAILED with tar stderr and leaves no partial file', async () => {
    const output = join(work.path, 'out', 'archive.tar');
    await mkdir(join(work.path, 'out'));
    const error = await createTarArchive({ directory: join(work.path, 'missing'), output }).catch((caught: unknown) => caught);
    expect(BpError.hasCode(error, 'BP_ARCHIVE_FAILED')).toBe(true);
    expect((error as BpError).message).toMatch(/missing/);
    expect((error as BpError).details.stderr).toMatch(/Cannot (open|chdir)/);
    expect(await readdir(join(work.path, 'out'))).toEqual([]);
  });

  it('refuses to replace an existing archive', async () => {
    const output = join(work.path, 'archive.tar');
    await writeFile(output, 'keep me');
    await mkdir(join(work.path, 'tree'));
    const error = await createTarArchive({ directory: join(work.path, 'tree'), output }).catch((caught: unknown) => caught);
    expect(BpError.hasCode(error, 'BP_ALREADY_EXISTS')).toBe(true);
  });

  it('rejects sources outside the container directory', async () => {
    for (const sources of [['/etc'], ['./../x'], []]) {
      const error = await createTarArchive({ directory: work.path, sources, output: join(work.path, 'x.tar') }).catch((caught: unknown) => caught);
      expect(BpError.hasCode(error, 'BP_INVALID_ARGUMENT')).toBe(true);
    }
    expect(await readdir(work.path)).toEqual([]);
  });
});

describe('untrusted archives are checked before anything is extracted', () => {
  const cases: [string, Member[]][] = [
    ['an absolute member name', [...benign, { name: '/etc/passwd', body: 'x' }]],
    ['a member escaping with ..', [...benign, { name: './../escape', body: 'x' }]],
    ['a hard link to a path outside the root', [...benign, { name: './passwd', type: 'link', linkname: '/etc/passwd' }]],
    ['a member written through an archived symlink', [...benign, { name: './evil', type: 'symlink', linkname: '/etc' }, { name: './evil/passwd', body: 'x' }]],
    ['a device node', [...benign, { name: './disk', type: 'block-device', devmajor: 8, devminor: 0 }]],
  ];

  it.each(cases)('refuses %s with BP_ARCHIVE_UNSAFE', async (_name, members) => {
    const archive = join(work.path, 'evil.tar');
    await writeArchive(archive, members);
    const target = join(work.path, 'target');
    await mkdir(target);
    const error = await extractTarArchive({ archive, target }).catch((caught: unknown) => caught);
    expect(BpError.hasCode(error, 'BP_ARCHIVE_UNSAFE')).toBe(true);
    expect(await readdir(target)).toEqual([]);
  });

  it('accepts the benign archive and devices when allowed', async () => {
    const archive = join(work.path, 'ok.tar');
    await writeArchive(archive, [...benign, { name: './null', type: 'character-device', devmajor: 1, devminor: 3 }]);
    expect((await scanTarArchive(archive, { compression: 'none' })).unsafe).toHaveLength(1);
    expect(await scanTarArchive(archive, { compression: 'none', allowDevices: true })).toEqual({ members: 4, unsafe: [] });
  });

  it('refuses a file name that does not look like a tar archive, and garbage content', async () => {
    const target = join(work.path, 'target');
    await mkdir(target);
    await writeFile(join(work.path, 'archive.bin'), 'x');
    const byName = await extractTarArchive({ archive: join(work.path, 'archive.bin'), target }).catch((caught: unknown) => caught);
    expect(BpError.hasCode(byName, 'BP_ARCHIVE_UNSAFE')).toBe(true);
    await writeFile(join(work.path, 'garbage.tar.zst'), 'not zstd at all');
    const byContent = await extractTarArchive({ archive: join(work.path, 'garbage.tar.zst'), target }).catch((caught: unknown) => caught);
    expect(BpError.hasCode(byContent, 'BP_ARCHIVE_UNSAFE')).toBe(true);
    expect(await readdir(target)).toEqual([]);
  });
});

describe('extracting through the rate limiter', () => {
  // tar stops reading at the end-of-archive marker and exits 0; whatever follows it (record
  // padding, appended data) may still be in flight, so the feeding side sees a closed pipe.
  it('succeeds when tar exits before reading data that follows the end-of-archive marker', async () => {
    const archive = join(work.path, 'padded.tar');
    await writeArchive(archive, benign);
    const { appendFile } = await import('node:fs/promises');
    await appendFile(archive, Buffer.alloc(32 * 1024 * 1024));
    const target = join(work.path, 'target');
    await mkdir(target);
    await extractTarArchive({ archive, target, bandwidthLimit: 4 * 1024 * 1024 * 1024 });
    expect(await readdir(join(target, 'etc'))).toEqual(['hostname']);
  });
});
