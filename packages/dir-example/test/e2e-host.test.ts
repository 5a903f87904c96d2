import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { restoreContainer, restoreVm, runBackupJob, type GuestSpec, type JobResult } from '@bp/host';
import { execa } from 'execa';
import { afterEach, describe, expect, it } from 'vitest';
import { createTestStorage, type TestStorage } from './support/storage.js';
import { createContainerTree, expectedTree, treeDifferences } from './support/tree.js';
import { DEVICE, guestWrites, qemuImg } from './support/vm-host.js';

const SIZE = 64 * 1024 * 1024;

function vmGuest(vmid: number, disk: string): GuestSpec {
  return {
    type: 'qemu',
    vmid,
    config: `name: vm${vmid}\nscsi0: local:vm-${vmid}-disk-0,size=64M\n`,
    source: { kind: 'images', disks: [{ virtdev: 'scsi0', image: disk, format: 'qcow2' }] },
  };
}

function describeFailure(result: JobResult): string {
  const guests = result.guests.map((guest) => `${guest.vmid}: ${guest.status} ${guest.error?.message ?? ''}`);
  return [...guests, result.error ? `job: ${result.error.message}` : ''].join('\n');
}

/** Restores a VM backup with @bp/host's restoreVm (qmrestore's call order) and compares its disk with `reference`. */
async function restoresTo(env: TestStorage, volid: string, reference: string): Promise<boolean> {
  const targetDir = await mkdtemp(join(env.work, 'restore-'));
  try {
    const restored = await restoreVm({ storage: env.storage, volid, targetDir, format: 'raw', log: env.log });
    expect(restored.config).toContain(`#qmdump#map:scsi0:${DEVICE}:`);
    const [disk] = restored.disks;
    return restored.disks.length === 1 && disk !== undefined && (await execa('cmp', [disk.path, reference], { reject: false })).exitCode === 0;
  } finally {
    await rm(targetDir, { recursive: true, force: true });
  }
}

async function backupGeneration(env: TestStorage, guests: GuestSpec[], prune?: string): Promise<JobResult> {
  const result = await runBackupJob({ storage: env.storage, guests, options: { logDir: join(env.work, 'logs'), ...(prune ? { prune } : {}) }, log: env.log });
  expect(result.ok, describeFailure(result)).toBe(true);
  return result;
}

describe('end to end through @bp/host', () => {
  let env: TestStorage | undefined;
  afterEach(async () => {
    await env?.dispose();
    env = undefined;
  });

  it.each(['nbd', 'file-handle'] as const)('backs up generations of a VM over %s, each restoring byte-identical', async (mechanism) => {
    env = await createTestStorage({ 'vm-backup-mode': 'incremental', 'vm-backup-mechanism': mechanism });
    const disk = join(env.work, 'vm-100.qcow2');
    await qemuImg('create', '-q', '-f', 'qcow2', disk, String(SIZE));
    const generations: { volid: string; reference: string }[] = [];
    for (let generation = 0; generation < 3; generation++) {
      await guestWrites(disk, SIZE, 12);
      const reference = join(env.work, `reference-${generation}.raw`);
      await qemuImg('convert', '-f', 'qcow2', '-O', 'raw', disk, reference);
      const result = await backupGeneration(env, [vmGuest(100, disk)]);
      generations.push({ volid: result.guests[0]!.volid!, reference });
      await new Promise((resolve) => setTimeout(resolve, 1100)); // archive names have second resolution
    }
    const volumes = await env.storage.listVolumes({ vmid: 100 });
    expect(volumes.map((volume) => volume.volid)).toEqual(generations.map((generation) => generation.volid));
    expect(volumes[2]?.parent).toBe(volumes[1]?.volid);
    for (const { volid, reference } of generations) expect(await restoresTo(env, volid, reference)).toBe(true);
  });

  it.each(['nbd', 'file-handle'] as const)('reads only allocated data for a full backup over %s; holes and zeroes restore as zeroes', async (mechanism) => {
    env = await createTestStorage({ 'vm-backup-mode': 'full', 'vm-backup-mechanism': mechanism });
    const disk = join(env.work, 'vm-101.qcow2');
    await qemuImg('create', '-q', '-f', 'qcow2', disk, String(SIZE));
    // Data (with an odd-sized tail), explicit zeroes over old data, an unallocated gap, and data
    // at the very end: only the 5 MiB of live data may be read.
    const MiB = 1024 * 1024;
    await execa('qemu-io', ['-f', 'qcow2', '-c', `write -P 0x5a 0 ${4 * MiB}`, '-c', `write -z ${MiB} ${MiB}`, '-c', `write -P 0xa5 ${9 * MiB} ${MiB + 4096}`, '-c', `write -P 0x3c ${SIZE - MiB} ${MiB}`, disk]);
    const reference = join(env.work, 'reference.raw');
    await qemuImg('convert', '-f', 'qcow2', '-O', 'raw', disk, reference);
    const result = await backupGeneration(env, [vmGuest(101, disk)]);
    const read = env.logs.map((line) => /drive-scsi0: read (\d+) bytes/.exec(line)?.[1]).find((value) => value !== undefined);
    // Allocation is reported per 64 KiB qcow2 cluster: 3 + 1 (+ one cluster for the tail) + 1 MiB.
    expect(Number(read)).toBe(5 * MiB + 64 * 1024);
    expect(await restoresTo(env, result.guests[0]!.volid!, reference)).toBe(true);
  });

  it('runs concurrent jobs with retention on one storage and keeps every remaining backup restorable', async () => {
    env = await createTestStorage({ 'vm-backup-mode': 'incremental', 'vm-backup-mechanism': 'nbd' });
    const disks = new Map<number, string>();
    for (const vmid of [100, 101]) {
      const disk = join(env.work, `vm-${vmid}.qcow2`);
      await qemuImg('create', '-q', '-f', 'qcow2', disk, String(SIZE));
      disks.set(vmid, disk);
    }
    const references = new Map<string, string>();
    for (let generation = 0; generation < 3; generation++) {
      const jobs = [...disks].map(async ([vmid, disk]) => {
        await guestWrites(disk, SIZE, 8);
        const reference = join(env!.work, `reference-${vmid}-${generation}.raw`);
        await qemuImg('convert', '-f', 'qcow2', '-O', 'raw', disk, reference);
        const result = await backupGeneration(env!, [vmGuest(vmid, disk)], 'keep-last=2');
        references.set(result.guests[0]!.volid!, reference);
      });
      await Promise.all(jobs);
      await new Promise((resolve) => setTimeout(resolve, 1100));
    }
    const volumes = await env.storage.listVolumes();
    expect(volumes.length).toBe(4);
    for (const volume of volumes) expect(await restoresTo(env, volume.volid, references.get(volume.volid)!)).toBe(true);
  });

  it.each(['tar', 'squashfs'] as const)('backs up an unprivileged container as %s in a child running as its mapped root', async (format) => {
    env = await createTestStorage({ 'lxc-backup-mode': format });
    await chmod(join(env.root, '..'), 0o755);
    const rootfs = join(env.work, 'rootfs');
    await chmod(env.work, 0o755);
    await createContainerTree(rootfs);
    // The container's files belong to its mapped IDs on the host.
    await execa('chown', ['-R', '-h', '100000:100000', rootfs]);
    const result = await backupGeneration(env, [
      { type: 'lxc', vmid: 200, config: 'hostname: ct200\nunprivileged: 1\n', rootDirectory: rootfs, backupUserId: 100000, excludePatterns: ['*.me'] },
    ]);
    const volid = result.guests[0]!.volid!;
    const expected = join(env.work, 'expected');
    await execa('cp', ['-a', rootfs, expected]);
    await expectedTree(expected);
    // pct restore's path through @bp/host: untrusted tar checks, extraction in the container's
    // user namespace (0 -> 100000), so owners come back as the host IDs they had.
    const targetRoot = join(env.work, 'restored');
    const restored = await restoreContainer({ storage: env.storage, volid, targetRoot, log: env.log });
    expect(restored.mechanism).toBe(format === 'tar' ? 'tar' : 'directory');
    expect(await treeDifferences(expected, targetRoot)).toEqual([]);
  });
});
