import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { compareImages } from '../src/demo/compare-images.js';
import { bpCommandFor, demoSummary } from '../src/demo/demo-command.js';
import type { DemoJson } from '../src/index.js';
import { createSampleTree } from '../src/demo/sample-tree.js';
import { manifestDifferences, treeManifest } from '../src/demo/tree-manifest.js';
import { createQcow2, snapshotRaw, writeRandom } from './helpers/images.js';

// The demo's exit code rests on these checks: prove that they catch differences.
let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'bp-cli-verify-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('demo verification', () => {
  it('compareImages accepts identical content in another format and reports a changed byte', async () => {
    const image = join(dir, 'disk.qcow2');
    await createQcow2(image, 16);
    await writeRandom(image, 2, 1);
    const reference = join(dir, 'reference.raw');
    await snapshotRaw(image, reference);
    const signal = new AbortController().signal;
    expect(await compareImages(reference, image, signal)).toBeUndefined();
    await writeRandom(image, 8, 1);
    expect(await compareImages(reference, image, signal)).toMatch(/differ|mismatch/i);
  });

  it('manifestDifferences sees changed content and a broken hardlink', async () => {
    const tree = join(dir, 'tree');
    await createSampleTree(tree);
    const before = await treeManifest(tree);
    expect(manifestDifferences(before, await treeManifest(tree))).toEqual([]);
    await writeFile(join(tree, 'etc/hostname'), 'changed\n');
    await rm(join(tree, 'home/user/data-hardlink.bin'));
    const problems = manifestDifferences(before, await treeManifest(tree));
    expect(problems).toContain('home/user/data-hardlink.bin: missing');
    expect(problems.some((problem) => problem.startsWith('etc/hostname: content differs'))).toBe(true);
    expect(problems.some((problem) => problem.startsWith('home/user/data.bin: links differs'))).toBe(true);
  });

  it('the summary shows every row, and failed rows and the verdict when a check failed', () => {
    const step = { volid: 'demo:backup/100/qemu-2026-11-26T20:00:00Z', bytesCopied: 3 * 1024 * 1024, durationMs: 1500, throughput: 2_097_152, problem: null };
    const json: DemoJson = {
      storage: 'demo',
      storagePath: '/data/storages/demo',
      workDir: '/tmp/bp-demo-x',
      ok: true,
      containerIdShift: 0,
      steps: [
        { ...step, backup: 'vm 100 full', kind: 'vm full', verified: true },
        { ...step, backup: 'ct 200', kind: 'ct tar', verified: true, volid: 'demo:backup/200/lxc-2026-11-26T20:00:01Z' },
      ],
    };
    const text = demoSummary(json);
    expect(text).toMatch(/^BACKUP\s+KIND\s+BYTES COPIED\s+TIME\s+THROUGHPUT\s+VERIFIED\n/);
    expect(text).toMatch(/vm 100 full\s+vm full\s+3\.0 MiB\s+1\.5 s\s+2\.0 MiB\/s\s+yes/);
    expect(text).toContain('Every restore is identical');
    expect(text).toContain('\n  bp list --storage demo\n');
    // Started by npm (`npm start`, `npx bp demo`), bp is a workspace bin and not on PATH: say `npx bp`.
    expect(demoSummary(json, bpCommandFor({ npm_command: 'start', npm_lifecycle_event: 'start' }))).toContain('\n  npx bp list --storage demo\n  npx bp show demo:backup/100/qemu-2026-11-26T20:00:00Z\n');
    expect(bpCommandFor({})).toBe('bp');
    const failed = demoSummary({ ...json, ok: false, steps: [{ ...step, backup: 'vm 100 full', kind: 'vm full', verified: false, problem: 'content differs' }] });
    expect(failed).toContain('NO: content differs');
    expect(failed).toContain('VERIFICATION FAILED');
  });
});
