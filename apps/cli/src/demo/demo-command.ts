import type { CommandSpec } from '../args/command-spec.js';
import { absolutePath, parseByteSize, stringValue } from '../args/values.js';
import { DEMO_STORAGE_ID, findStorage, openStorageEntry, type StorageEntry } from '../config/storage-registry.js';
import { dirExampleType } from '../deps/plugins.js';
import { formatBytes, formatDuration, formatRate } from '../output/format.js';
import type { DemoJson, DemoStepJson } from '../output/json-types.js';
import { renderTable } from '../output/table.js';
import { usageError } from '../errors/usage-error.js';
import { runDemo } from './run-demo.js';
import { blockingDirectory } from '../commands/reachable-by.js';

const MiB = 1024 * 1024;

/**
 * How the user types `bp` in the shell the demo ran from: `npx bp` when npm started it (`npm start`
 * or `npx bp demo` in a checkout, where `bp` is a workspace bin and not on PATH), else `bp`.
 */
export function bpCommandFor(env: Record<string, string | undefined>): string {
  return env.npm_command === undefined && env.npm_lifecycle_event === undefined ? 'bp' : 'npx bp';
}

/** The human summary of a demo run: the table, the verdict and how to explore the storage. */
export function demoSummary(json: DemoJson, bp = 'bp'): string {
  const table = renderTable(
    [
      { header: 'BACKUP', value: (step: DemoStepJson) => step.backup },
      { header: 'KIND', value: (step) => step.kind },
      { header: 'BYTES COPIED', value: (step) => formatBytes(step.bytesCopied), right: true },
      { header: 'TIME', value: (step) => formatDuration(step.durationMs), right: true },
      { header: 'THROUGHPUT', value: (step) => formatRate(step.bytesCopied, step.durationMs), right: true },
      { header: 'VERIFIED', value: (step) => (step.verified ? 'yes' : `NO: ${step.problem ?? ''}`) },
    ],
    json.steps,
  );
  const storageFlag = json.storage === DEMO_STORAGE_ID ? '--storage demo' : `--storage ${json.storage}`;
  const first = json.steps[0]?.volid ?? `${json.storage}:backup/...`;
  const fileStep = json.steps.find((step) => step.backup.includes(' file '));
  return [
    table,
    '',
    json.ok ? 'Every restore is identical to the state it was backed up from.' : 'VERIFICATION FAILED: see the rows marked NO above.',
    ...(json.containerIdShift > 0
      ? [`(The container was backed up privileged, so it was restored unprivileged with owners shifted by ${json.containerIdShift}, as PVE does.)`]
      : []),
    `The demo storage stays in ${json.storagePath}. Explore it with:`,
    `  ${bp} list ${storageFlag}`,
    `  ${bp} show ${first}`,
    `  ${bp} verify ${storageFlag}`,
    ...(fileStep ? [`  ${bp} files ${fileStep.volid} /etc`] : []),
  ].join('\n');
}

/** `bp demo` (`npm start`). */
export const demoCommand: CommandSpec = {
  name: 'demo',
  summary: 'Back up, restore and verify a sample VM disk and container tree',
  usage: '[options]',
  description:
    'Creates a sample qcow2 disk and a container tree, runs a full VM backup, writes into the disk, runs two\n' +
    'incremental backups, backs up the container and a VM with an ext4 disk, restores every backup into a\n' +
    'scratch directory (one file of the ext4 VM on its own, without the disk) and proves each restore\n' +
    'identical. Exit 1 if any verification fails. The demo storage is left in place.',
  options: [
    { name: 'dir', type: 'string', argument: '<dir>', description: 'storage directory for the demo backups', defaultText: 'the embedded `demo` storage' },
    { name: 'size', type: 'string', argument: '<bytes>', description: 'size of the sample disk (64M to 4G)', defaultText: '256M' },
    { name: 'keep-work', type: 'boolean', description: 'keep the scratch directory (sample disk, references, restores)' },
  ],
  positionals: { min: 0, max: 0, names: 'no arguments' },
  examples: ['bp demo', 'bp demo --size 1G --dir /tmp/bp-demo-store', 'bp demo --json'],
  failureCode: 'BP_BACKUP_FAILED',
  async run(context) {
    const sizeText = stringValue(context.values, 'size');
    const diskSize = sizeText === undefined ? 256 * MiB : parseByteSize(sizeText, '--size');
    if (diskSize < 64 * MiB || diskSize > 4096 * MiB || diskSize % MiB !== 0) throw usageError('--size must be a whole number of MiB from 64M to 4G');
    const dir = stringValue(context.values, 'dir');
    const entry: StorageEntry = dir === undefined
      ? await findStorage(context.paths, context.global.storage ?? DEMO_STORAGE_ID)
      : { id: DEMO_STORAGE_ID, type: dirExampleType(), config: { path: absolutePath(context.io.cwd, dir), 'vm-backup-mode': 'incremental' }, source: 'embedded' };
    // An unprivileged container's mapped root must reach the storage; otherwise back it up privileged.
    const unprivileged = typeof entry.config.path === 'string' && (await blockingDirectory(`${entry.config.path}/.`, 100_000, 100_000)) === undefined;
    const json = await runDemo(context, {
      openStorage: async (overrides) => openStorageEntry(entry, overrides),
      diskSize,
      keepWork: context.values['keep-work'] === true,
      vmid: 100,
      ctid: 200,
      unprivileged,
    });
    return { json, text: demoSummary(json, bpCommandFor(context.io.env)), exitCode: json.ok ? 0 : 1 };
  },
};
