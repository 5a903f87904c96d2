import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DemoJson, ListJson, ShowJson } from '../src/index.js';
import { createSandbox, type BpSandbox } from './helpers/run-bp.js';

let bp: BpSandbox;
beforeAll(async () => {
  bp = await createSandbox();
});
afterAll(async () => {
  await bp?.dispose();
});

describe('bp demo', () => {
  it('backs up, restores and verifies everything, then leaves the demo storage to explore', async () => {
    const result = await bp.run(['demo', '--size', '64M', '--json']);
    expect(result.exitCode, `${result.stderr}\n${result.stdout}`).toBe(0);
    const demo = JSON.parse(result.stdout) as DemoJson;
    expect(demo.ok).toBe(true);
    expect(demo.storage).toBe('demo');
    // The sandbox is searchable for the container's mapped root: the unprivileged path, identical owners.
    expect(demo.containerIdShift).toBe(0);
    expect(demo.steps.map((step) => [step.backup, step.kind, step.verified, step.problem])).toEqual([
      ['vm 100 full', 'vm full', true, null],
      ['vm 100 incremental 1', 'vm incremental', true, null],
      ['vm 100 incremental 2', 'vm incremental', true, null],
      ['ct 200', 'ct tar', true, null],
      ['vm 101 file /etc/motd', 'vm full', true, null],
    ]);
    for (const step of demo.steps) expect(step.bytesCopied).toBeGreaterThan(0);
    // Incrementals copy the written regions only, not the whole 64 MiB disk.
    expect(demo.steps[1]?.bytesCopied).toBeLessThan(demo.steps[0]?.bytesCopied ?? 0);

    const list = await bp.json<ListJson>(['list', '--storage', 'demo']);
    expect(list.backups.map((backup) => backup.volid)).toEqual(demo.steps.map((step) => step.volid).sort());
    const show = await bp.json<ShowJson>(['show', demo.steps[2]?.volid ?? '']);
    expect(show.chain).toEqual(demo.steps.slice(0, 3).map((step) => step.volid));
    // The demo's last line: a directory of the ext4 VM's backup, listed without a restore.
    const files = await bp.run(['files', demo.steps[4]?.volid ?? '', '/etc']);
    expect(files.exitCode, files.stderr).toBe(0);
    expect(files.stdout).toMatch(/motd/);
    expect(files.stdout).toMatch(/hostname/);

  });
});
