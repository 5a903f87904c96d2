import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect, test } from 'vitest';

const root = fileURLToPath(new URL('../..', import.meta.url));

// What `npm run test:unit` selects must stay runnable without root, QEMU or a build: no test file
// in it may use execa (how this project starts QEMU and friends), the helpers that start tools or
// the built CLI, or the packages that drive QEMU. Anything that does belongs under `test/`.
const FORBIDDEN = [/from 'execa'/, /test-support\.js'/, /helpers\/run-bp\.js'/, /from '@bp\/host'/, /from '@bp\/conformance'/, /process\.getuid/];

test('the unit suite selects pure tests only, from every package that has them', () => {
  const listed = spawnSync('npx', ['vitest', 'list', '--config', 'vitest.unit.config.ts', '--filesOnly', '--json'], { cwd: root, encoding: 'utf8' });
  expect(listed.status, listed.stderr).toBe(0);
  const files = (JSON.parse(listed.stdout) as Array<{ file: string }>).map((entry) => relative(root, entry.file));
  expect(files.length).toBeGreaterThan(15);
  for (const pkg of ['packages/api/', 'packages/nbd/', 'packages/host/', 'apps/cli/']) expect(files.some((file) => file.startsWith(pkg)), pkg).toBe(true);
  const impure = files.filter((file) => FORBIDDEN.some((pattern) => pattern.test(readFileSync(`${root}${file}`, 'utf8'))));
  expect(impure, 'these unit tests start processes or need the system tools; move them under test/ or exclude them').toEqual([]);
}, 120_000);
