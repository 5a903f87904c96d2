import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { describe, expect, test } from 'vitest';
import { runNbdCli, type NbdInfoJson, type NbdMapEntry } from '@bp/nbd/cli';
import { type QemuNbdServer } from '@bp/nbd/qemu';
import { createQcow2, imagesEqual, qemuIo } from './helpers/images.js';
import { useQemuNbdScratch } from './helpers/qemu-nbd-scratch.js';

const MiB = 1024 * 1024;
const scratch = useQemuNbdScratch();

async function run(...argv: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const code = await runNbdCli(argv, { stdout: { write: (text: string) => (stdout += text) }, stderr: { write: (text: string) => (stderr += text) } });
  return { code, stdout, stderr };
}

async function servedImage(): Promise<{ image: string; server: QemuNbdServer }> {
  const image = join(scratch.path(), 'disk.qcow2');
  await createQcow2(image, 16 * MiB);
  await qemuIo(image, ['write -P 0x11 0 1M']);
  await execa('qemu-img', ['bitmap', '--add', image, 'b0']);
  await qemuIo(image, ['write -P 0x22 4M 128k']);
  const server = await scratch.serve(image, { readOnly: true, bitmaps: ['b0'] });
  return { image, server };
}

describe('bp-nbd', () => {
  test('info --json reports size, capabilities and contexts', async () => {
    const { server } = await servedImage();
    const result = await run('info', '--json', server.uri);
    expect(result.code).toBe(0);
    const info = JSON.parse(result.stdout) as NbdInfoJson;
    expect(info).toMatchObject({ exportName: 'disk', size: 16 * MiB, capabilities: { readOnly: true } });
    expect(info.contexts).toEqual(expect.arrayContaining(['base:allocation', 'qemu:dirty-bitmap:b0']));
  });

  test('map prints extents like nbdinfo --map', async () => {
    const { server } = await servedImage();
    const text = await run('map', server.uri);
    const { stdout: expected } = await execa('nbdinfo', ['--map', server.uri]);
    expect(text.stdout.trim().split('\n').map((line) => line.trim().split(/\s+/))).toEqual(expected.trim().split('\n').map((line) => line.trim().split(/\s+/)));
    const json = await run('map', '--json', '--context', 'qemu:dirty-bitmap:b0', server.uri);
    const entries = JSON.parse(json.stdout) as NbdMapEntry[];
    expect(entries.filter((entry) => entry.description === 'dirty').map(({ offset, length }) => ({ offset, length }))).toEqual([{ offset: 4 * MiB, length: 128 * 1024 }]);
  });

  test('copy to a file, then the dirty extents only', async () => {
    const { image, server } = await servedImage();
    const target = join(scratch.path(), 'copy.raw');
    const full = await run('copy', '--requests', '4', '--request-size', '256K', server.uri, target);
    expect(full.code, full.stderr).toBe(0);
    expect(await imagesEqual(image, target, 'qcow2', 'raw')).toBe(true);
    const incremental = join(scratch.path(), 'incremental.raw');
    const result = await run('copy', '--json', '--bitmap', 'b0', server.uri, incremental);
    expect(result.code, result.stderr).toBe(0);
    expect(JSON.parse(result.stdout)).toMatchObject({ bytes: 128 * 1024, bytesWritten: 128 * 1024 });
    const data = await readFile(incremental);
    expect(data.subarray(4 * MiB, 4 * MiB + 128 * 1024).every((byte) => byte === 0x22)).toBe(true);
    expect(data.subarray(0, MiB).every((byte) => byte === 0)).toBe(true);
  });

  test('copy into a new qcow2, then an incremental into a qcow2 overlay backed by it', async () => {
    const { image, server } = await servedImage();
    const full = join(scratch.path(), 'full.qcow2');
    const first = await run('copy', server.uri, full);
    expect(first.code, first.stderr).toBe(0);
    expect(await imagesEqual(image, full)).toBe(true);
    const overlay = join(scratch.path(), 'overlay.qcow2');
    const second = await run('copy', '--json', '--bitmap', 'b0', '--backing', 'full.qcow2', server.uri, overlay);
    expect(second.code, second.stderr).toBe(0);
    expect(JSON.parse(second.stdout)).toMatchObject({ bytesWritten: 128 * 1024 });
    expect(await imagesEqual(image, overlay)).toBe(true);
    const again = await run('copy', server.uri, full);
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/^BP_ALREADY_EXISTS: /);
    expect((await run('copy', '--format', 'vmdk', server.uri, full)).code).toBe(2);
  });

  test('usage errors exit 2, failures exit 1 with BP_CODE: message', async () => {
    expect((await run()).code).toBe(2);
    expect((await run('--help')).code).toBe(0);
    const unknown = await run('frobnicate');
    expect(unknown).toMatchObject({ code: 2 });
    expect(unknown.stderr).toMatch(/^BP_INVALID_ARGUMENT: /);
    expect((await run('copy', 'nbd://x/y')).code).toBe(2);
    expect((await run('copy', '--requests', 'many', 'a', 'b')).code).toBe(2);
    expect((await run('info', '--bogus', 'x')).code).toBe(2);
    const { server } = await servedImage();
    const missing = await run('copy', '--bitmap', 'nope', server.uri, join(scratch.path(), 'x.raw'));
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/^BP_NOT_FOUND: /);
    const closed = await run('info', `nbd+unix:///disk?socket=${join(scratch.path(), 'none.sock')}`);
    expect(closed.code).toBe(1);
    expect(closed.stderr).toMatch(/^BP_NBD_CLOSED: /);
  });

  test('the built bin runs', async () => {
    const bin = fileURLToPath(new URL('../dist/cli.js', import.meta.url));
    const help = await execa('node', [bin, '--help'], { reject: false });
    expect(help.exitCode).toBe(0);
    expect(help.stdout).toContain('Usage: bp-nbd');
    const usage = await execa('node', [bin, 'map'], { reject: false });
    expect(usage.exitCode).toBe(2);
  });

  test('the built bin starts without loading zod or execa', async () => {
    // Start-up time of the bin is mostly module loading: a resolve hook fails any import of them.
    const bin = fileURLToPath(new URL('../dist/cli.js', import.meta.url));
    const hook = `export async function resolve(specifier, context, next) {
      if (/^(zod|execa)(\\/|$)/.test(specifier)) throw new Error('bp-nbd loaded ' + specifier);
      return next(specifier, context);
    }`;
    const register = `import { register } from 'node:module'; register(${JSON.stringify(`data:text/javascript,${encodeURIComponent(hook)}`)});`;
    const importHook = `data:text/javascript,${encodeURIComponent(register)}`;
    const help = await execa('node', ['--import', importHook, bin, '--help'], { reject: false });
    expect(help.stderr).not.toContain('bp-nbd loaded');
    expect(help.exitCode).toBe(0);
    // The hook itself works: the package's QEMU entry does load execa.
    const main = fileURLToPath(new URL('../dist/qemu.js', import.meta.url));
    const library = await execa('node', ['--import', importHook, main], { reject: false });
    expect(library.stderr).toContain('bp-nbd loaded execa');
  });
});
