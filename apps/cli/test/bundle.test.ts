import { copyFile, mkdtemp, readFile, rm } from 'node:fs/promises';
import { builtinModules } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';
import { CLI } from './helpers/run-bp.js';

const bundle = fileURLToPath(new URL('../dist/bp.cjs', import.meta.url));
const bin = fileURLToPath(new URL('../bin/bp.js', import.meta.url));

// bp starts from one file (src/cli.ts): every module it imports, ours and third-party, is inside.
describe('the bp bundle', () => {
  it('requires nothing but Node built-ins and keeps no import.meta', async () => {
    const source = await readFile(bundle, 'utf8');
    const required = new Set([...source.matchAll(/\brequire\("([^"]+)"\)/g)].map((match) => match[1]!));
    const builtins = new Set(builtinModules.flatMap((name) => [name, `node:${name}`]));
    expect([...required].filter((name) => !builtins.has(name))).toEqual([]);
    expect(required.size).toBeGreaterThan(5);
    expect(source).not.toMatch(/\bimport\.meta\b/);
  });

  it('runs the same command from dist/cli.js and from bin/bp.js', async () => {
    const fromDist = await execa('node', [CLI, '--version', '--json']);
    const fromBin = await execa('node', [bin, '--version', '--json']);
    expect(JSON.parse(fromBin.stdout)).toEqual(JSON.parse(fromDist.stdout));
    expect(JSON.parse(fromDist.stdout)).toHaveProperty('version');
  });

  it('starts where the packages it finds files of cannot be resolved (they are looked up on first use)', async () => {
    const alone = await mkdtemp(join(tmpdir(), 'bp-bundle-alone-'));
    try {
      await copyFile(bundle, join(alone, 'bp.cjs'));
      const result = await execa('node', [join(alone, 'bp.cjs'), '--version'], { cwd: alone, reject: false });
      expect(result.stderr).toBe('');
      expect(result.exitCode).toBe(0);
    } finally {
      await rm(alone, { recursive: true, force: true });
    }
  });
});
