import { mkdir, readdir, writeFile } from 'node:fs/promises';
import { createWriteStream } from 'node:fs';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { execa } from 'execa';
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

describe('tar exit status 1 (files changed while being read)', () => {
  /** A `tar` first on PATH that archives with the real tar, then reports a changed file and exits 1. */
  async function withChangingTar<T>(run: () => Promise<T>): Promise<T> {
    const bin = join(work.path, 'bin');
    await mkdir(bin);
    const realTar = (await execa('sh', ['-c', 'command -v tar'])).stdout;
    await writeFile(join(bin, 'tar'), `#!/bin/sh\n"${realTar}" "$@" || exit $?\necho 'tar: ./a: file changed as we read it' >&2\nexit 1\n`, { mode: 0o755 });
    const path = process.env.PATH;
    process.env.PATH = `${bin}:${path ?? ''}`;
    try {
      return await run();
    } finally {
      process.env.PATH = path;
    }
  }

  async function tree(): Promise<string> {
    const directory = join(work.path, 'tree');
    await mkdir(directory);
    await writeFile(join(directory, 'a'), 'changing\n');
    return directory;
  }

  it.each([
    ['a file, written by tar', {}],
    ['a file, through the rate limiter', { bandwidthLimit: 1024 * 1024 * 1024 }],
  ])('keeps the archive and reports the diagnostics when accepted: %s', async (_name, extra) => {
    const directory = await tree();
    const output = join(work.path, 'archive.tar');
    const warnings: string[] = [];
    const result = await withChangingTar(() => createTarArchive({ directory, output, ...extra, onFilesChanged: (text) => warnings.push(text) }));
    expect(warnings).toEqual(['tar: ./a: file changed as we read it']);
    expect(result.totals).toMatch(/^Total bytes written: /);
    const scan = await scanTarArchive(output, { compression: 'none' });
    expect(scan.members).toBeGreaterThan(0);
  });

  it('keeps the archive written to a stream', async () => {
    const directory = await tree();
    const output = join(work.path, 'archive.tar');
    const warnings: string[] = [];
    await withChangingTar(() => createTarArchive({ directory, output: createWriteStream(output), onFilesChanged: (text) => warnings.push(text) }));
    expect(warnings).toHaveLength(1);
    expect((await scanTarArchive(output, { compression: 'none' })).members).toBeGreaterThan(0);
  });

  it('fails without onFilesChanged and leaves no partial file', async () => {
    const directory = await tree();
    const output = join(work.path, 'out', 'archive.tar');
    await mkdir(join(work.path, 'out'));
    const error = await withChangingTar(() => createTarArchive({ directory, output })).catch((caught: unknown) => caught);
    expect(BpError.hasCode(error, 'BP_ARCHIVE_FAILED')).toBe(true);
    expect((error as BpError).message).toMatch(/file changed as we read it/);
    expect(await readdir(join(work.path, 'out'))).toEqual([]);
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
