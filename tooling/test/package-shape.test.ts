import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { publint } from 'publint';
import { formatMessage } from 'publint/utils';
import { describe, expect, test } from 'vitest';

const root = fileURLToPath(new URL('../..', import.meta.url));
const packageDirs = ['packages', 'apps'].flatMap((group) =>
  readdirSync(`${root}${group}`).map((name) => `${group}/${name}`),
);

// The package-shape check: every workspace must publish what its exports map promises.
describe.each(packageDirs)("%s", (dir) => {
  const pkgDir = `${root}${dir}`;
  test('passes publint (strict)', async () => {
    const pkg = JSON.parse(readFileSync(`${pkgDir}/package.json`, 'utf8'));
    const { messages } = await publint({ pkgDir, strict: true, level: 'warning' });
    expect(messages.map((message) => formatMessage(message, pkg))).toEqual([]);
  });
});
