import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSandbox, type BpSandbox } from './helpers/run-bp.js';

// bp conformance --perl-module: the kit against @bp/pve's Perl test provider, through the built
// CLI. A few storage-only scenarios keep it quick; @bp/pve's own tests run the VM and container
// groups through the same runner.
const root = fileURLToPath(new URL('../../../', import.meta.url));
const fixtures = `${root}packages/pve/test/fixtures/perl`;
const module = 'PVE::Storage::Custom::BpTestDirPlugin';

interface Report {
  type: string;
  passed: number;
  failed: number;
  skipped: number;
  scenarios: Array<{ id: string; variant: string; status: string; reason?: string }>;
}

let bp: BpSandbox;
beforeAll(async () => {
  bp = await createSandbox();
});
afterAll(async () => {
  await bp?.dispose();
});

describe('bp conformance --perl-module', () => {
  it('runs the chosen scenarios and prints pass / skip with the reason; exit 0', async () => {
    const result = await bp.run(['conformance', '--perl-module', module, '--include', fixtures, '--scenario', 'factory.variants', '--scenario', 'storage.listed-after-success', '--scenario', 'storage.prune']);
    expect(result.exitCode, result.stderr).toBe(0);
    expect(result.stdout).toMatch(/^RESULT +SCENARIO +REASON$/m);
    expect(result.stdout).toMatch(/^PASS +factory\.variants \[nbd\]$/m);
    expect(result.stdout).toMatch(/^PASS +factory\.variants \[file-handle\]$/m);
    expect(result.stdout).toMatch(/^PASS +storage\.listed-after-success$/m);
    expect(result.stdout).toMatch(/^SKIP +storage\.prune +.*does not declare/m);
    expect(result.stdout).toContain(`3 passed, 0 failed, 1 skipped (${module}, storage type bp-test-dir)`);
  });

  it('a broken provider fails with the broken behaviour in the report and exit 1 (--json)', async () => {
    const result = await bp.run(['conformance', '--json', '--perl-module', module, '--include', fixtures, '--config', 'broken=list-before-cleanup', '--scenario', 'storage.listed-after-success']);
    expect(result.exitCode, result.stderr).toBe(1);
    const report = JSON.parse(result.stdout) as Report;
    expect(report).toMatchObject({ type: 'bp-test-dir', passed: 0, failed: 1, skipped: 0 });
    expect(report.scenarios[0]).toMatchObject({ id: 'storage.listed-after-success', status: 'fail' });
    expect(report.scenarios[0]?.reason).toMatch(/was listed before backupCleanup\(success\)/);
  });

  it('the command the READMEs print works as printed, from the repository root', async () => {
    const readme = readFileSync(`${root}README.md`, 'utf8');
    const line = /`npx (bp conformance [^`]+)`/.exec(readme)?.[1];
    expect(line).toBeDefined();
    expect(readFileSync(`${root}packages/pve/README.md`, 'utf8')).toContain(line!);
    const result = await bp.run(line!.split(' ').slice(1), { cwd: root });
    expect(result.exitCode, result.stderr).toBe(0);
    expect(result.stdout).toMatch(/^PASS +storage\.listed-after-success$/m);
  });

  it('a module that cannot be found, a bad --config and a missing --perl-module are reported', async () => {
    const missing = await bp.run(['conformance', '--perl-module', 'PVE::Storage::Custom::NoSuch', '--include', fixtures]);
    expect(missing.exitCode).toBe(1);
    expect(missing.stderr).toMatch(/BP_NOT_FOUND: .*cannot load Perl module PVE::Storage::Custom::NoSuch: Can't locate/);
    const usage = await bp.run(['conformance', '--include', fixtures]);
    expect(usage.exitCode).toBe(2);
    expect(usage.stderr).toContain('--perl-module <name> is required');
    const config = await bp.run(['conformance', '--perl-module', module, '--include', fixtures, '--config', 'path=/x']);
    expect(config.exitCode).toBe(2);
  });
});
