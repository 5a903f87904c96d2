import { appendFile, chmod, lchown, rm, writeFile, copyFile } from 'node:fs/promises';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compareTrees, createFixtureTree, type FixtureTree } from '../src/testing/index.js';
import { temporaryDirectory } from './helpers.js';

let work: { path: string; cleanup: () => Promise<void> };
let fixture: FixtureTree;

beforeAll(async () => {
  work = await temporaryDirectory('compare');
  fixture = await createFixtureTree(join(work.path, 'source'), { sparseSize: 64 * 1024 * 1024 });
});

afterAll(async () => {
  await work.cleanup();
});

describe('compareTrees', () => {
  it('finds a faithful copy equal and reports each kind of damage', async () => {
    const copy = join(work.path, 'copy');
    await execa('cp', ['-a', '--sparse=always', fixture.root, copy]);
    expect((await compareTrees(fixture.root, copy)).differences).toEqual([]);

    await chmod(join(copy, 'usr/bin/su'), 0o755);
    await lchown(join(copy, 'home/user/notes.txt'), 0, 0);
    await appendFile(join(copy, 'etc/hostname'), 'x');
    await execa('setfattr', ['-x', 'user.comment', join(copy, 'home/user/notes.txt')]);
    await execa('setfacl', ['-b', join(copy, 'home/user/acl-file')]);
    await rm(join(copy, 'data/hardlink-b'));
    await copyFile(join(copy, 'data/hardlink-a'), join(copy, 'data/hardlink-b'));
    await execa('cp', ['--sparse=never', join(fixture.root, 'data/sparse.img'), join(copy, 'data/sparse.img')]);
    await rm(join(copy, 'empty'), { recursive: true });
    await writeFile(join(copy, 'extra'), '');

    const { differences } = await compareTrees(fixture.root, copy);
    const expected = [
      /^usr\/bin\/su: mode "4755" != "755"/,
      /^home\/user\/notes\.txt: owner "1000:1000" != "0:0"/,
      /^etc\/hostname: size/,
      /^etc\/hostname: content/,
      /^home\/user\/notes\.txt: xattrs/,
      /^home\/user\/acl-file: acl/,
      /^data\/hardlink-b: hard links/,
      /^data\/sparse\.img: sparse file lost its holes/,
      /^empty: missing/,
      /^extra: unexpected entry/,
    ];
    for (const pattern of expected) expect(differences.some((line) => pattern.test(line)), String(pattern)).toBe(true);
  });

  it('applies exclusions to the source and ID shifts to the copy', async () => {
    const copy = join(work.path, 'copy-excluded');
    await execa('cp', ['-a', fixture.root, copy]);
    await rm(join(copy, 'lost+found'), { recursive: true });
    // Removing lost+found touched the root's mtime.
    expect((await compareTrees(fixture.root, copy, { exclude: [], ignore: ['sparse', 'root-mtime'] })).differences).toEqual([]);
    expect((await compareTrees(fixture.root, copy, { idShift: 1, ignore: ['sparse'] })).differences).toContainEqual(expect.stringMatching(/owner/));
  });
});
