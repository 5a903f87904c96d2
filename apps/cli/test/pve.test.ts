import { existsSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSandbox, type BpSandbox } from './helpers/run-bp.js';

// bp pve install / uninstall / package: the help examples run as printed (the default Perl
// directory redirected into the sandbox with BP_PVE_PERL_DIR), the installed modules load with
// the PVE stand-ins of @bp/pve's Perl tests and answer a storage call through the bridge.
const standIns = fileURLToPath(new URL('../../../packages/pve/t/lib', import.meta.url));
const compat = fileURLToPath(new URL('../../../packages/pve/perl/compat', import.meta.url));
const storageModule = 'PVE/Storage/Custom/BpDirPlugin.pm';
const providerModule = 'PVE/BackupProvider/Plugin/BpDir.pm';
const deb = '/tmp/libpve-storage-bp-dir-perl_0.1.0-1_all.deb';

let bp: BpSandbox;
let perlDir: string;
beforeAll(async () => {
  bp = await createSandbox();
  perlDir = join(bp.root, 'perl5');
  bp.env.BP_PVE_PERL_DIR = perlDir;
});
afterAll(async () => {
  await rm('/tmp/bp-perl5', { recursive: true, force: true });
  await rm(deb, { force: true });
  await rm('/tmp/libpve-storage-bp-dir-perl_1.2.0-1_all.deb', { force: true });
  await bp?.dispose();
});

async function examples(command: string): Promise<string[][]> {
  const help = await bp.run([...command.split(' '), '--help']);
  expect(help.exitCode).toBe(0);
  const lines = help.stdout.split('\n').filter((line) => line.trim().startsWith('$ bp '));
  expect(lines.length).toBeGreaterThan(0);
  return lines.map((line) => line.trim().slice('$ bp '.length).split(' '));
}

function perl(dir: string, code: string): Promise<{ stdout: string; stderr: string; exitCode?: number }> {
  return execa('perl', ['-I', dir, '-I', standIns, '-I', compat, '-e', code], { reject: false, env: { BP_PVE_RUN_DIR: join(bp.root, 'run') } });
}

describe('bp pve', () => {
  it('install: every help example works as printed; the modules load and answer through the bridge', async () => {
    for (const argv of await examples('pve install')) {
      const result = await bp.run(argv);
      expect(result.exitCode, result.stderr).toBe(0);
      expect(result.stdout).toContain('Installed storage type bp-dir (@bp/dir-example#dirExamplePlugin)');
      expect(result.stdout).toMatch(/^bp-dir: backup1\n\tpath \/srv\/backup\n\tcontent backup$/m);
    }
    for (const dir of [perlDir, '/tmp/bp-perl5']) {
      for (const file of [storageModule, providerModule, 'BP/PVE/Bridge.pm']) expect(existsSync(join(dir, file)), `${dir}/${file}`).toBe(true);
      const check = await perl(dir, 'use PVE::Storage; use PVE::Storage::Custom::BpDirPlugin; use PVE::BackupProvider::Plugin::BpDir; print PVE::Storage::check_custom_plugin("PVE::Storage::Custom::BpDirPlugin") eq "" ? "loaded\\n" : "warning\\n"');
      expect(check.stdout, check.stderr).toBe('loaded');
    }
    const store = join(bp.root, 'store');
    const status = await perl(
      perlDir,
      `use PVE::Storage; use PVE::Storage::Custom::BpDirPlugin; mkdir("${store}"); my @s = PVE::Storage::Custom::BpDirPlugin->status("b1", { type => "bp-dir", path => "${store}" }, {});` +
        ' print "active=$s[3]\\n"; BP::PVE::Bridge::storage_shutdown($PVE::Storage::Custom::BpDirPlugin::BRIDGE);',
    );
    expect(status.stdout, status.stderr).toBe('active=1');
  });

  it('install refuses what it cannot use and writes nothing', async () => {
    const missing = await bp.run(['pve', 'install', './no-such-plugin.mjs', '--perl-dir', join(bp.root, 'nothing')]);
    expect(missing.exitCode).toBe(2);
    expect(missing.stderr).toMatch(/BP_INVALID_ARGUMENT: cannot import plugin package "\.\/no-such-plugin\.mjs"/);
    const badType = await bp.run(['pve', 'install', '@bp/dir-example', '--type', 'Bad_Type', '--perl-dir', join(bp.root, 'nothing')]);
    expect(badType.exitCode).toBe(2);
    expect(badType.stderr).toMatch(/storage type "Bad_Type" is not valid/);
    expect(existsSync(join(bp.root, 'nothing'))).toBe(false);
  });

  it('package: a .deb with the modules and the Debian dependencies', async () => {
    for (const argv of await examples('pve package')) {
      const result = await bp.run(argv);
      expect(result.exitCode, result.stderr).toBe(0);
      expect(result.stdout).toMatch(/^Built \/tmp\/libpve-storage-bp-dir-perl_.*_all\.deb$/m);
    }
    const depends = await execa('dpkg-deb', ['-f', deb, 'Depends']);
    expect(depends.stdout).toContain('nodejs (>= 20)');
    expect(depends.stdout).toContain('libnbd-bin');
    expect(depends.stdout).toContain('pve-qemu-kvm | qemu-utils');
    const contents = await execa('dpkg-deb', ['-c', deb]);
    for (const file of [storageModule, providerModule, 'BP/PVE/Bridge.pm']) expect(contents.stdout).toContain(`./usr/share/perl5/${file}`);
    expect(contents.stdout).toMatch(/root\/root/);
    expect((await execa('dpkg-deb', ['-f', '/tmp/libpve-storage-bp-dir-perl_1.2.0-1_all.deb', 'Version'])).stdout).toBe('1.2.0-1');
  });

  it('uninstall: every help example works as printed; unknown types are refused', async () => {
    for (const argv of await examples('pve uninstall')) {
      const result = await bp.run(argv);
      expect(result.exitCode, result.stderr).toBe(0);
      expect(result.stdout).toContain('Removed storage type bp-dir:');
    }
    for (const dir of [perlDir, '/tmp/bp-perl5']) {
      for (const file of [storageModule, providerModule, 'BP/PVE/Bridge.pm']) expect(existsSync(join(dir, file)), `${dir}/${file}`).toBe(false);
    }
    const unknown = await bp.run(['pve', 'uninstall', 'bp-nothing']);
    expect(unknown.exitCode).toBe(1);
    expect(unknown.stderr).toMatch(/BP_NOT_FOUND: storage type bp-nothing is not installed/);
  });
});
