import { readdir, readFile, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSandbox, type BpSandbox } from './helpers/run-bp.js';

let bp: BpSandbox;
beforeAll(async () => {
  bp = await createSandbox();
});
afterAll(async () => {
  await bp?.dispose();
});

interface PackageJson {
  dependencies: Record<string, string>;
  devDependencies: Record<string, string>;
}

/** A user's shell: nothing of the npm or vitest process running this test leaks into the generated package's npm. */
function shellEnv(): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (value === undefined || /^(npm_|VITEST|TURBO_)/i.test(key) || ['NODE_ENV', 'TEST', 'NODE_OPTIONS', 'INIT_CWD'].includes(key)) continue;
    env[key] = value;
  }
  return { ...env, ...bp.env, npm_config_update_notifier: 'false', npm_config_fund: 'false', npm_config_audit: 'false' };
}

async function npm(dir: string, args: string[]): Promise<{ exitCode: number; output: string }> {
  const result = await execa('npm', args, { cwd: dir, env: shellEnv(), extendEnv: false, reject: false, all: true, stdin: 'ignore', timeout: 900_000 });
  return { exitCode: result.exitCode ?? -1, output: String(result.all) };
}

describe('bp new-provider', () => {
  it('refuses a non-empty directory, a bad name and an unknown template, and writes nothing', async () => {
    const taken = join(bp.root, 'taken');
    await execa('mkdir', ['-p', taken]);
    await writeFile(join(taken, 'keep.txt'), 'mine');
    const busy = await bp.run(['new-provider', taken]);
    expect(busy.exitCode).toBe(1);
    expect(busy.stderr).toContain('BP_ALREADY_EXISTS');
    expect(await readdir(taken)).toEqual(['keep.txt']);

    const badName = await bp.run(['new-provider', join(bp.root, 'Bad Name')]);
    expect(badName.exitCode).toBe(2);
    expect(badName.stderr).toMatch(/not a valid npm package name.*--name/);
    const badTemplate = await bp.run(['new-provider', join(bp.root, 'x'), '--template', 'tape']);
    expect(badTemplate.exitCode).toBe(2);
    expect(badTemplate.stderr).toContain('--template must be one of vm, container, storage-only');
    expect((await readdir(bp.root)).sort()).toEqual(['home', 'taken', 'tmp']);
  });

  // Each template: generate, `npm install`, `npm test` (tsc, build, the conformance kit). The VM
  // template's data scenarios beyond a full backup, incrementals and H1 are left out here to keep
  // `npm test` short (its storage code is the one the container run covers fully). storage-only has
  // the VM template's dependencies exactly (checked), so it reuses that install instead of a third.
  const cases: Array<[string, string[], RegExp, string | undefined]> = [
    ['vm', ['--', '--testNamePattern', 'factory|fresh provider|backupCleanup|failed guest|listVolumes|full backup restores|three incremental|H1'], /Tests\s+\d+ passed/, undefined],
    ['storage-only', [], /Tests\s+\d+ passed \| \d+ skipped/, 'vm'],
    ['container', [], /Tests\s+\d+ passed/, undefined],
  ];
  it.each(cases)('the %s template installs and passes its own npm test on the first run', async (template, testArgs, passed, installOf) => {
    const dir = join(bp.root, `${template}-provider`);
    const created = await bp.run(['new-provider', dir, '--template', template]);
    expect(created.exitCode, created.stderr).toBe(0);
    expect(created.stdout).toContain('test/conformance.test.ts');
    const pkg = JSON.parse(await readFile(join(dir, 'package.json'), 'utf8')) as PackageJson;
    // Inside this checkout the @bp packages are file: links (they are not on the registry).
    expect(pkg.dependencies['@bp/api']).toMatch(/^file:\/.*\/packages\/api$/);
    expect(pkg.devDependencies['@bp/conformance']).toMatch(/^file:/);

    if (installOf === undefined) {
      const install = await npm(dir, ['install', '--prefer-offline']);
      expect(install.exitCode, install.output).toBe(0);
    } else {
      const other = JSON.parse(await readFile(join(bp.root, `${installOf}-provider`, 'package.json'), 'utf8')) as PackageJson;
      expect([pkg.dependencies, pkg.devDependencies]).toEqual([other.dependencies, other.devDependencies]);
      await symlink(join(bp.root, `${installOf}-provider`, 'node_modules'), join(dir, 'node_modules'));
    }
    const test = await npm(dir, ['test', ...testArgs]);
    expect(test.exitCode, test.output).toBe(0);
    expect(test.output).toMatch(passed);
    expect(test.output).not.toMatch(/\d+ failed/);
  }, 1_200_000);
});
