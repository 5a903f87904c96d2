import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { BpError } from '@bp/api/errors';
import { execa } from 'execa';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { NBD_MODULE_REMEDY, reserveNbdSlot } from './nbd-slot.js';
import { isDeviceTakenMessage, qemuNbdDeviceBinding } from './qemu-nbd-binding.js';
import { parseReservations } from './reservations.js';
import { nbdSlotPaths, type NbdSlotRoots } from './slot-paths.js';

const fixtureDir = fileURLToPath(new URL('./fixtures/', import.meta.url));

interface FakeTree {
  readonly base: string;
  readonly roots: Required<NbdSlotRoots>;
}

/** A fake /sys, /dev, /run with the nbd module "loaded" and `devices` device nodes present. */
async function fakeTree(nbdsMax: number, devices: number[]): Promise<FakeTree> {
  const base = await mkdtemp(join(tmpdir(), 'bp-nbd-slots-'));
  const roots = { sys: join(base, 'sys'), dev: join(base, 'dev'), run: join(base, 'run') };
  await mkdir(join(roots.sys, 'module', 'nbd', 'parameters'), { recursive: true });
  await writeFile(join(roots.sys, 'module', 'nbd', 'parameters', 'nbds_max'), `${String(nbdsMax)}\n`);
  await mkdir(roots.dev, { recursive: true });
  await mkdir(roots.run, { recursive: true });
  for (const index of devices) await writeFile(join(roots.dev, `nbd${String(index)}`), '');
  return { base, roots };
}

function unixNow(): number {
  return Math.floor(Date.now() / 1000);
}

function spawnChild(args: string[]) {
  return execa('node', ['--import', 'tsx', join(fixtureDir, 'slot-child.ts'), ...args], {
    env: { TSX_TSCONFIG_PATH: join(fixtureDir, 'tsconfig.json') },
    reject: false,
  });
}

describe('reserveNbdSlot', () => {
  let tree: FakeTree;
  const cleanups: (() => Promise<void>)[] = [];
  beforeEach(async () => {
    tree = await fakeTree(4, [0, 1, 2, 3]);
  });
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
    await rm(tree.base, { recursive: true, force: true });
  });

  it('reports the missing module with the exact remedy on this machine', async () => {
    if (existsSync('/sys/module/nbd')) return; // a machine with the module cannot show this path
    const error = await reserveNbdSlot().catch((caught: unknown) => caught);
    expect(BpError.hasCode(error, 'BP_NBD_MODULE_MISSING')).toBe(true);
    expect((error as BpError).message).toContain('modprobe nbd nbds_max=128');
    expect((error as BpError).details.remedy).toBe(NBD_MODULE_REMEDY);
  });

  it('reports the missing module in a tree without /sys/module/nbd and writes nothing', async () => {
    await rm(join(tree.roots.sys, 'module'), { recursive: true });
    await expect(reserveNbdSlot({ roots: tree.roots })).rejects.toMatchObject({ code: 'BP_NBD_MODULE_MISSING' });
    expect(existsSync(join(tree.roots.run, 'qemu-server'))).toBe(false);
  });

  it('hands out devices round robin from the newest entry and records them in Proxmox format', async () => {
    const first = await reserveNbdSlot({ roots: tree.roots });
    const second = await reserveNbdSlot({ roots: tree.roots });
    expect([first.index, second.index]).toEqual([0, 1]);
    expect(first.devicePath).toBe(join(tree.roots.dev, 'nbd0'));
    await first.release();
    const third = await reserveNbdSlot({ roots: tree.roots });
    expect(third.index).toBe(2);
    const text = await readFile(nbdSlotPaths(tree.roots).reservationFile, 'utf8');
    expect(text).toMatch(/^(\d+ \d+\n)+$/);
    expect(parseReservations(text).map((entry) => entry.index)).toEqual([0, 1, 2]);
    await second.release();
    await third.release();
  });

  it('skips missing devices, Proxmox reservations, qemu-nbd lock sockets and connected devices', async () => {
    const paths = nbdSlotPaths(tree.roots);
    await rm(paths.device(0));
    await mkdir(join(tree.roots.run, 'qemu-server'), { recursive: true });
    // A fresh reservation by Proxmox for 1 and an expired one for 3 (the newest valid entry is 1).
    await writeFile(paths.reservationFile, `3 ${String(unixNow() - 3600)}\n1 ${String(unixNow())}\n`);
    await mkdir(join(tree.roots.run, 'lock'), { recursive: true });
    const server: Server = createServer();
    await new Promise<void>((resolve) => server.listen(paths.qemuNbdLockSocket(2), resolve));
    cleanups.push(() => new Promise<void>((resolve) => server.close(() => resolve())));
    await mkdir(join(tree.roots.sys, 'block', 'nbd3'), { recursive: true });
    await writeFile(paths.sysPidFile(3), '4242\n');
    await expect(reserveNbdSlot({ roots: tree.roots })).rejects.toMatchObject({ code: 'BP_NBD_NO_FREE_DEVICE' });

    await rm(paths.sysPidFile(3));
    const slot = await reserveNbdSlot({ roots: tree.roots });
    expect(slot.index).toBe(3);
    // The expired entry is dropped, the Proxmox one kept.
    const entries = parseReservations(await readFile(paths.reservationFile, 'utf8'));
    expect(entries.map((entry) => entry.index)).toEqual([1, 3]);
    await slot.release();
  });

  it('moves on when connect reports the device taken and leaves no trace when connect throws', async () => {
    const tried: number[] = [];
    const slot = await reserveNbdSlot({
      roots: tree.roots,
      connect: async (_device, index) => {
        tried.push(index);
        return index === 0 ? 'busy' : undefined;
      },
    });
    expect(tried).toEqual([0, 1]);
    expect(slot.index).toBe(1);
    await slot.release();

    const paths = nbdSlotPaths(tree.roots);
    const before = await readFile(paths.reservationFile, 'utf8');
    const failure = new BpError('BP_QEMU_FAILED', 'qemu-nbd -c failed: image missing');
    await expect(reserveNbdSlot({ roots: tree.roots, connect: () => Promise.reject(failure) })).rejects.toBe(failure);
    expect(await readFile(paths.reservationFile, 'utf8')).toBe(before);
    expect(existsSync(paths.ownerLockFile(2))).toBe(false);
    expect(isDeviceTakenMessage('qemu-nbd: Failed to set NBD socket')).toBe(true);
  });

  it('renews its reservation line while held, so Proxmox keeps away past the 60 s expiry', async () => {
    const paths = nbdSlotPaths(tree.roots);
    const slot = await reserveNbdSlot({ roots: tree.roots, refreshIntervalMs: 100 });
    cleanups.push(() => slot.release());
    // Age our line as if it had been written 50 s ago.
    const aged = unixNow() - 50;
    await writeFile(paths.reservationFile, `${String(slot.index)} ${String(aged)}\n`);
    let renewed = false;
    for (let attempt = 0; attempt < 600 && !renewed; attempt++) {
      await new Promise((resolve) => setTimeout(resolve, 50));
      const entries = parseReservations(await readFile(paths.reservationFile, 'utf8'));
      renewed = entries.some((entry) => entry.index === slot.index && entry.time > aged + 10);
    }
    expect(renewed).toBe(true);
  });

  it('binds with qemu-nbd -c, moves on at "Failed to set NBD socket" and unbinds with qemu-nbd -d', async () => {
    // No kernel module here, so a stand-in qemu-nbd on PATH plays the kernel's answers.
    const bin = join(tree.base, 'bin');
    const log = join(tree.base, 'qemu-nbd.log');
    await mkdir(bin);
    await writeFile(
      join(bin, 'qemu-nbd'),
      `#!/bin/sh\necho "$*" >> '${log}'\ncase "$2" in\n  */nbd0) echo 'qemu-nbd: Failed to set NBD socket' >&2; exit 1;;\n  */nbd2) echo 'qemu-nbd: Could not open image' >&2; exit 1;;\nesac\nexit 0\n`,
      { mode: 0o755 },
    );
    const originalPath = process.env.PATH;
    process.env.PATH = `${bin}:${originalPath ?? ''}`;
    cleanups.push(async () => {
      process.env.PATH = originalPath;
    });
    const binding = qemuNbdDeviceBinding(['--format=qcow2', '/images/disk.qcow2']);
    const slot = await reserveNbdSlot({ roots: tree.roots, connect: binding.connect, disconnect: binding.disconnect });
    expect(slot.index).toBe(1);
    await slot.release();
    const dev = tree.roots.dev;
    expect((await readFile(log, 'utf8')).trim().split('\n')).toEqual([
      `-c ${dev}/nbd0 --format=qcow2 /images/disk.qcow2`,
      `-c ${dev}/nbd1 --format=qcow2 /images/disk.qcow2`,
      `-d ${dev}/nbd1`,
    ]);
    // The next candidate is nbd2, whose failure is not "taken": it ends the search.
    const error = await reserveNbdSlot({ roots: tree.roots, connect: binding.connect }).catch((caught: unknown) => caught);
    expect(BpError.hasCode(error, 'BP_QEMU_FAILED')).toBe(true);
    expect((error as BpError).message).toContain('Could not open image');
  });

  it('runs disconnect on release', async () => {
    const disconnected: string[] = [];
    const slot = await reserveNbdSlot({
      roots: tree.roots,
      disconnect: async (device) => {
        disconnected.push(device);
      },
    });
    await slot.release();
    await slot.release();
    expect(disconnected).toEqual([slot.devicePath]);
  });

  it('waits for the Proxmox lock held with flock(1) and gives up with BP_LOCKED', async () => {
    const paths = nbdSlotPaths(tree.roots);
    await mkdir(join(tree.roots.run, 'lock', 'qemu-server'), { recursive: true });
    const holder = execa('flock', ['--no-fork', paths.lockFile, 'sleep', '30'], { reject: false });
    cleanups.push(async () => {
      holder.kill('SIGKILL');
      await holder;
    });
    // Wait until the holder owns the lock.
    for (;;) {
      const probe = await execa('flock', ['--nonblock', paths.lockFile, 'true'], { reject: false });
      if (probe.exitCode !== 0) break;
    }
    const error = await reserveNbdSlot({ roots: tree.roots, lockTimeoutMs: 300 }).catch((caught: unknown) => caught);
    expect(BpError.hasCode(error, 'BP_LOCKED')).toBe(true);
  });

  it('recovers the device of a bp process that died while holding it', async () => {
    const single = await fakeTree(4, [2]);
    cleanups.push(() => rm(single.base, { recursive: true, force: true }));
    const child = execa('node', ['--import', 'tsx', join(fixtureDir, 'slot-child.ts'), 'hold', JSON.stringify(single.roots)], {
      env: { TSX_TSCONFIG_PATH: join(fixtureDir, 'tsconfig.json') },
      reject: false,
    });
    const index = await new Promise<string>((resolve, reject) => {
      child.stdout.once('data', (chunk: Buffer) => resolve(chunk.toString().trim()));
      void child.then((result) => reject(new Error(`child exited early: ${String(result.stderr)}`)));
    });
    expect(index).toBe('2');
    // While the child lives, the device is not available.
    await expect(reserveNbdSlot({ roots: single.roots })).rejects.toMatchObject({ code: 'BP_NBD_NO_FREE_DEVICE' });
    child.kill('SIGKILL');
    await child;
    // Its reservation line is still fresh, but its owner lock died with it.
    const slot = await reserveNbdSlot({ roots: single.roots });
    expect(slot.index).toBe(2);
    await slot.release();
  });

  it('never hands the same device to two of 10 racing processes', async () => {
    const markers = join(tree.base, 'markers');
    await mkdir(markers);
    const iterations = 4;
    const children = Array.from({ length: 10 }, () => spawnChild(['race', JSON.stringify(tree.roots), String(iterations), markers]));
    const results = await Promise.all(children);
    for (const result of results) {
      expect(result.stderr).toBe('');
      expect(result.exitCode).toBe(0);
    }
    const handedOut = results.flatMap((result) => result.stdout.trim().split('\n')).map(Number);
    expect(handedOut).toHaveLength(10 * iterations);
    expect(new Set(handedOut).size).toBeGreaterThan(1);
  });
});
