// A kit run leaves nothing behind: no temp directories, mounts or processes. The scenarios run
// with TMPDIR pointing at a private directory, which must be empty again afterwards.
import { chmod, mkdtemp, readdir, rm } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { dirExamplePlugin } from '@bp/dir-example';
import { runScenario, scenarioById, type ProviderVariant, type Scenario } from '../src/index.js';
import { descendantProcesses, mountsUnder } from '../src/kit/leftovers.js';
import { dirExampleFactory } from './support/dir-factory.js';

let privateTmp: string;
let savedTmpdir: string | undefined;

beforeAll(async () => {
  savedTmpdir = process.env.TMPDIR;
  // Short (Unix socket paths below it stay within 108 bytes), reachable by the container's mapped root.
  privateTmp = await mkdtemp('/tmp/bpk-');
  await chmod(privateTmp, 0o755);
  process.env.TMPDIR = privateTmp;
});

afterAll(async () => {
  if (savedTmpdir === undefined) delete process.env.TMPDIR;
  else process.env.TMPDIR = savedTmpdir;
  await rm(privateTmp, { recursive: true, force: true });
});

// One of each kind of work: VM backup and restore (QEMU, FUSE views), a failed source (nbdfuse
// mount), container archives as the mapped root (child process, squashfs mount on restore),
// direct lifecycle jobs.
const runs: Array<[string, ProviderVariant]> = [
  ['vm.full-round-trip', { vmMechanism: 'file-handle' }],
  ['safety.source-read-fault', { vmMechanism: 'nbd' }],
  ['container.mapped-uid', { containerFormat: 'squashfs' }],
  ['lifecycle.failed-then-good', {}],
];

describe('a kit run leaves no temp files, mounts or processes behind', () => {
  for (const [id, variant] of runs) {
    test(`${id} ${JSON.stringify(variant)}`, async () => {
      const before = await descendantProcesses();
      await runScenario(scenarioById(id), { expect, factory: dirExampleFactory(), supports: dirExamplePlugin.supports, variant });
      expect(await readdir(privateTmp), `${id} left entries in TMPDIR`).toEqual([]);
      expect(await mountsUnder(privateTmp), `${id} left mounts`).toEqual([]);
      const after = [...(await descendantProcesses())].filter(([pid]) => !before.has(pid));
      expect(after, `${id} left processes`).toEqual([]);
    });
  }
});

// A provider that starts a helper with --daemonize / setsid: the helper is reparented to init, so
// only its command line (naming the scenario's temp directory) ties it to the scenario. Found as
// qemu-storage-daemon FUSE views of a broken provider, each spinning at a quarter of a core after
// their mounts were removed.
test('a helper that detached from the kit (reparented to init) is reported and killed', async () => {
  const { execa } = await import('execa');
  const { readFile, writeFile } = await import('node:fs/promises');
  const { join } = await import('node:path');
  let helperPid = 0;
  const detaching: Scenario = {
    id: 'test.detached-helper',
    title: 'starts a detached helper',
    kind: 'storage',
    axis: 'none',
    async run() {
      const file = join(process.env.TMPDIR ?? '/tmp', 'watched file');
      await writeFile(file, '');
      // setsid -f forks and exits: the tail is orphaned like a daemon.
      await execa('setsid', ['-f', 'tail', '-f', file], { stdio: 'ignore' });
      for (let tries = 0; tries < 50 && helperPid === 0; tries++) {
        helperPid = Number((await execa('pgrep', ['-f', '-n', `tail -f ${file}`], { reject: false })).stdout.trim() || 0);
        if (helperPid === 0) await new Promise((resolve) => setTimeout(resolve, 20));
      }
    },
  };
  await expect(runScenario(detaching, { expect, factory: dirExampleFactory(), supports: dirExamplePlugin.supports })).rejects.toThrow(/processes tail \(pid \d+\)/);
  expect(helperPid).toBeGreaterThan(0);
  // Killed: gone, or a zombie waiting for init to reap it.
  const state = await readFile(`/proc/${helperPid}/stat`, 'utf8').then((stat) => stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3)).catch(() => 'gone');
  expect(['gone', 'Z']).toContain(state);
});
