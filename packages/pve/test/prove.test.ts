import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { dirExamplePlugin } from '@bp/dir-example';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generatePerlModules, installPerlModules, sourcesTsconfig } from '../src/index.js';
import { probePlugin } from '../t/fixtures/probe-plugin.js';

// Runs the Perl test suite (t/*.t, Test::More) with `prove`, one vitest test per file, against
// modules generated into a temporary Perl tree. The Node processes run from TypeScript sources.
const packageRoot = fileURLToPath(new URL('..', import.meta.url));
const tests = readdirSync(join(packageRoot, 't')).filter((name) => name.endsWith('.t')).sort();

let scratch: string;
let perlDir: string;

beforeAll(async () => {
  scratch = mkdtempSync(join(tmpdir(), 'bp-pve-prove-'));
  perlDir = join(scratch, 'perl5');
  const dirExample = generatePerlModules(dirExamplePlugin, { module: join(packageRoot, '../dir-example/src/index.ts'), runDir: join(scratch, 'run') });
  const probe = generatePerlModules(probePlugin, { module: join(packageRoot, 't/fixtures/probe-plugin.ts'), runDir: join(scratch, 'run') });
  await installPerlModules([...dirExample.files, ...probe.files], perlDir);
});

afterAll(() => {
  if (scratch) rmSync(scratch, { recursive: true, force: true });
});

describe('prove t/', () => {
  it.each(tests)('%s', (name) => {
    const runDir = mkdtempSync(join(scratch, `run-${name}-`));
    const result = spawnSync('prove', ['-I', perlDir, '-I', join(packageRoot, 't/lib'), join('t', name)], {
      cwd: packageRoot,
      encoding: 'utf8',
      env: { ...process.env, BP_PVE_RUN_DIR: runDir, BP_PVE_TEST_SCRATCH: scratch, TSX_TSCONFIG_PATH: sourcesTsconfig() },
      timeout: 300_000,
    });
    const output = `${result.stdout}\n${result.stderr}`;
    expect(result.status, output).toBe(0);
    expect(output).toMatch(/Result: PASS/);
  });
});
