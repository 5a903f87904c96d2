import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, symlinkSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, expect, test } from 'vitest';

const bootstrap = fileURLToPath(new URL('../bootstrap.mjs', import.meta.url));
const bin = mkdtempSync(join(tmpdir(), 'bp-bootstrap-'));
chmodSync(bin, 0o755);
symlinkSync(process.execPath, join(bin, 'node'));
symlinkSync('/bin/sh', join(bin, 'sh'));
afterAll(() => rmSync(bin, { recursive: true, force: true }));

function runAs(uid: number | undefined, path: string) {
  return spawnSync(process.execPath, [bootstrap], {
    env: { PATH: path, HOME: bin },
    encoding: 'utf8',
    ...(uid === undefined ? {} : { uid, gid: uid }),
  });
}

test('without the tools and without root it names them and prints the exact apt-get command', () => {
  const result = runAs(65534, bin);
  expect(result.status).toBe(1);
  expect(result.stderr).toContain('BP_MISSING_TOOLS: missing qemu-img, qemu-nbd');
  expect(result.stderr).toContain(
    'apt-get update && apt-get install -y --no-install-recommends acl attr dosfstools e2fsprogs fdisk fuse3 gdisk libjson-perl libnbd-bin mount mtools nbdkit perl perl-modules-5.36 python3-libnbd qemu-system-common qemu-system-x86 qemu-utils squashfs-tools squashfuse tar util-linux xfsprogs zstd',
  );
});

test('with every tool present it does nothing visible', () => {
  const result = runAs(undefined, process.env.PATH ?? '/usr/bin:/bin');
  expect(result.stderr).toBe('');
  expect(result.stdout).toBe('');
  expect(result.status).toBe(0);
});
