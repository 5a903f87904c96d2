import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { BackupStoragePlugin } from '@bp/api';
import { dirExamplePlugin } from '@bp/dir-example';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generatePerlModules, installPerlModules, sourcesTsconfig, type GenerateOptions } from '../src/index.js';

// Runs the Perl test suite (t/*.t, Test::More) with `prove`, one vitest test per file, against
// modules generated into a temporary Perl tree. The Node processes run from the build when it is
// newer than every source it bundles (Node starts in a second instead of several through tsx),
// else from the TypeScript sources through tsx. BP_PVE_TEST_FROM_SOURCES=1 forces sources.
const packageRoot = fileURLToPath(new URL('..', import.meta.url));
const packages = fileURLToPath(new URL('../..', import.meta.url));
const tests = readdirSync(join(packageRoot, 't')).filter((name) => name.endsWith('.t')).sort();
const probeModule = join(packageRoot, 't/fixtures/probe-plugin.mjs');

function newestMtime(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? newestMtime(path) : statSync(path).mtimeMs);
  }
  return newest;
}

function buildIsFresh(): boolean {
  if (process.env.BP_PVE_TEST_FROM_SOURCES === '1') return false;
  try {
    return ['api', 'nbd', 'archive', 'dir-example', 'pve'].every((name) => {
      const built = Math.min(...['index.js', ...(name === 'pve' ? ['server.js'] : [])].map((file) => statSync(join(packages, name, 'dist', file)).mtimeMs));
      return built >= newestMtime(join(packages, name, 'src'));
    });
  } catch {
    return false;
  }
}

let scratch: string;
let perlDir: string;
const fromBuild = buildIsFresh();

beforeAll(async () => {
  scratch = mkdtempSync(join(tmpdir(), 'bp-pve-prove-'));
  perlDir = join(scratch, 'perl5');
  const runDir = join(scratch, 'run');
  const server: GenerateOptions = fromBuild ? { server: join(packageRoot, 'dist/server.js'), nodeArgs: [] } : {};
  const probePlugin = ((await import(probeModule)) as { probePlugin: BackupStoragePlugin }).probePlugin;
  const dirExample = generatePerlModules(dirExamplePlugin, { ...server, module: fromBuild ? '@bp/dir-example' : join(packages, 'dir-example/src/index.ts'), runDir });
  const probe = generatePerlModules(probePlugin, { ...server, module: probeModule, runDir });
  await installPerlModules([...dirExample.files, ...probe.files], perlDir);
});

afterAll(() => {
  if (scratch) rmSync(scratch, { recursive: true, force: true });
});

describe(`prove t/ (Node side from ${fromBuild ? 'the build' : 'sources'})`, () => {
  it.each(tests)('%s', (name) => {
    const runDir = mkdtempSync(join(scratch, `run-${name}-`));
    const result = spawnSync('prove', ['-I', perlDir, '-I', join(packageRoot, 't/lib'), '-I', join(packageRoot, 'perl/compat'), join('t', name)], {
      cwd: packageRoot,
      encoding: 'utf8',
      env: { ...process.env, BP_PVE_RUN_DIR: runDir, BP_PVE_TEST_SCRATCH: scratch, TSX_TSCONFIG_PATH: sourcesTsconfig() },
      timeout: 540_000,
    });
    const output = `${result.stdout}\n${result.stderr}`;
    expect(result.status, output).toBe(0);
    expect(output).toMatch(/Result: PASS/);
    // The VM replay runs real QEMU exports and restores: minutes on a busy 2-core machine.
  }, 600_000);
});
