import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BpError } from '@bp/api';
import { compileExclusions } from '../src/index.js';

// Files of the tree; a trailing `/` marks an empty directory.
const TREE = [
  'tmp/.X11-unix/X0',
  'tmp/a.txt',
  'var/tmp/x',
  'var/run/sshd.pid',
  'var/run/.hidden.pid',
  'var/run/pidfile',
  'var/run/sub/deep.pid',
  'home/u/a.log',
  'home/u/b.log2/c',
  'home/u/logs/x.log',
  'a/b/c/d/f',
  'a/d',
  'x/a/d/f',
  'data/lost+found/z',
  'lost+found/y',
  'srv/[x]/f',
  'srv/y/',
  'ü/ñ.txt',
  '.hidden',
  'sp ace/f',
];

interface Row {
  patterns: string[];
  standard?: boolean;
  /** Top-most excluded paths; everything below them is excluded too. */
  excluded: string[];
}

const ROWS: Row[] = [
  { patterns: [], excluded: [] },
  { patterns: [], standard: true, excluded: ['tmp/.X11-unix', 'tmp/a.txt', 'var/tmp/x', 'var/run/sshd.pid', 'var/run/.hidden.pid'] },
  { patterns: ['*.log'], excluded: ['home/u/a.log', 'home/u/logs/x.log'] },
  { patterns: ['/a/**/d'], excluded: ['a/b/c/d', 'a/d'] },
  { patterns: ['a/**/d'], excluded: ['a/b/c/d', 'a/d', 'x/a/d'] },
  { patterns: ['/home/**'], excluded: ['home/u'] },
  { patterns: ['**/logs'], excluded: ['home/u/logs'] },
  { patterns: ['/srv/\\[x\\]'], excluded: ['srv/[x]'] },
  { patterns: ['[ab]'], excluded: ['a', 'x/a'] },
  { patterns: ['[!a-z]*'], excluded: ['.hidden', 'ü', 'srv/[x]', 'tmp/.X11-unix', 'var/run/.hidden.pid'] },
  { patterns: ['ü'], excluded: ['ü'] },
  { patterns: ['sp ace'], excluded: ['sp ace'] },
  { patterns: ['/var/run/?*.pid'], excluded: ['var/run/sshd.pid', 'var/run/.hidden.pid'] },
  { patterns: ['d'], excluded: ['a/b/c/d', 'a/d', 'x/a/d'] },
  { patterns: ['/x/a/d/'], excluded: ['x/a/d'] },
  { patterns: ['var/*'], excluded: ['var/tmp', 'var/run'] },
  { patterns: ['/srv/y'], excluded: ['srv/y'] },
  { patterns: ['run/*.pid', '/tmp'], excluded: ['var/run/sshd.pid', 'var/run/.hidden.pid', 'tmp'] },
  { patterns: ['.*'], excluded: ['.hidden', 'tmp/.X11-unix', 'var/run/.hidden.pid'] },
  { patterns: ['*/d'], excluded: ['a/b/c/d', 'a/d', 'x/a/d'] },
  { patterns: ['u/**'], excluded: ['home/u/a.log', 'home/u/b.log2', 'home/u/logs'] },
];

function allPaths(): string[] {
  const paths = new Set<string>();
  for (const entry of TREE) {
    const parts = entry.replace(/\/$/, '').split('/');
    for (let length = 1; length <= parts.length; length++) paths.add(parts.slice(0, length).join('/'));
  }
  return [...paths].sort();
}

function expectedKept(row: Row): string[] {
  const excluded = [...row.excluded, 'lost+found', 'data/lost+found'];
  return allPaths().filter((path) => !excluded.some((top) => path === top || path.startsWith(`${top}/`)));
}

const normalize = (lines: string[]): string[] =>
  lines
    .map((line) => line.replace(/^\.?\/?/, '').replace(/\/$/, ''))
    .filter((line) => line !== '')
    .sort();

let root: string;
let work: string;

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'bp-archive-exclusions-'));
  root = join(work, 'root');
  for (const entry of TREE) {
    const path = join(root, entry);
    if (entry.endsWith('/')) await mkdir(path, { recursive: true });
    else {
      await mkdir(dirname(path), { recursive: true });
      await writeFile(path, entry);
    }
  }
});

afterAll(async () => {
  await rm(work, { recursive: true, force: true });
});

describe('exclusion patterns select the same paths in the matcher, GNU tar and mksquashfs', () => {
  it.each(ROWS.map((row) => [`${row.standard ? '[standard] ' : ''}${row.patterns.join(' ') || '(none)'}`, row] as const))(
    '%s',
    async (_name, row) => {
      const exclusions = compileExclusions(row.patterns, { standard: row.standard ?? false });
      const kept = expectedKept(row);

      expect(allPaths().filter((path) => !exclusions.excludes(path))).toEqual(kept);

      const tarFile = join(work, `t-${ROWS.indexOf(row)}.tar`);
      await execa('tar', ['cf', tarFile, '-C', root, ...exclusions.tarArguments, './']);
      const tarList = await execa('tar', ['tf', tarFile]);
      expect(normalize(tarList.stdout.split('\n'))).toEqual(kept);

      const squashFile = join(work, `s-${ROWS.indexOf(row)}.sqfs`);
      await execa('mksquashfs', [root, squashFile, '-quiet', '-no-progress', '-noappend', ...(await exclusions.squashfsArguments(root))]);
      const squashList = await execa('unsquashfs', ['-d', '', '-l', squashFile]);
      expect(normalize(squashList.stdout.split('\n'))).toEqual(kept);
    },
  );

  it('rejects patterns that name no path or climb out of the root', () => {
    for (const pattern of ['', '/', '../etc', 'a/../b']) {
      expect(() => compileExclusions([pattern])).toThrow(expect.objectContaining({ code: 'BP_INVALID_ARGUMENT' }) as BpError);
    }
  });
});
