import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { expect, test } from 'vitest';

const root = fileURLToPath(new URL('../..', import.meta.url));

function run(command: string, args: string[]): { status: number | null; output: string } {
  const result = spawnSync(command, args, { cwd: root, encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' } });
  return { status: result.status, output: `${result.stdout}${result.stderr}` };
}

// The Development commands of the README, exactly as printed.
test('`npx biome lint` passes on the tree', () => {
  const lint = run('npx', ['biome', 'lint']);
  expect(lint.status, lint.output).toBe(0);
  expect(lint.output).toMatch(/Checked \d+ files/);
}, 120_000);

test('`npm run docs` writes the API reference the README links, with the provider helpers in it', () => {
  const docs = run('npm', ['run', 'docs']);
  expect(docs.status, docs.output).toBe(0);
  expect(docs.output).not.toMatch(/\[warning\]|\[error\]/);
  const readme = readFileSync(`${root}README.md`, 'utf8');
  expect(readme).toContain('(docs/api/index.html)');
  expect(readFileSync(`${root}docs/api/index.html`, 'utf8')).toContain('packages/api/src');
  expect(readFileSync(`${root}docs/api/functions/packages_api_src.defineProvider.html`, 'utf8')).toContain('BP_NOT_SUPPORTED');
}, 300_000);
