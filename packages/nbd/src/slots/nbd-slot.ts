import { constants } from 'node:fs';
import { access, mkdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { BpError } from '@bp/api/errors';
import { acquireFlock, type HeldFlock } from './flock-holder.js';
import { latestReservedIndex, readReservations, validReservations, writeReservations, type NbdReservation } from './reservations.js';
import { nbdSlotPaths, type NbdSlotPaths, type NbdSlotRoots } from './slot-paths.js';

/** What a connect step reports when the kernel refuses the device because someone else took it. */
export type NbdConnectResult = 'busy' | undefined | void;

/** Options for {@link reserveNbdSlot}. */
export interface ReserveNbdSlotOptions {
  /** Roots of the tree to use (default: the real `/sys`, `/dev`, `/run`). */
  readonly roots?: NbdSlotRoots;
  /**
   * Binds the picked device, e.g. `qemu-nbd -c` (see {@link qemuNbdDeviceBinding}). Runs under the
   * global lock. Return `'busy'` to move on to the next device; a throw aborts the reservation.
   */
  readonly connect?: (devicePath: string, index: number) => Promise<NbdConnectResult>;
  /** Unbinds the device on release, before the reservation is dropped. */
  readonly disconnect?: (devicePath: string, index: number) => Promise<void>;
  /** Wait at most this long for the global lock (default 10 s, as Proxmox). */
  readonly lockTimeoutMs?: number;
  /**
   * While held, renew the reservation line this often (default 20 s; 0 disables), so Proxmox's
   * allocator keeps away from a device that is reserved but not yet connected beyond its 60 s expiry.
   */
  readonly refreshIntervalMs?: number;
  readonly signal?: AbortSignal;
}

/** A reserved `/dev/nbdN`, exclusively ours until released or until this process dies. */
export interface NbdSlot {
  readonly index: number;
  /** `<dev>/nbd<index>`. */
  readonly devicePath: string;
  /** Disconnects (if a `disconnect` was given) and drops the owner lock. Idempotent. */
  release(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

const DEFAULT_LOCK_TIMEOUT_MS = 10_000;
const DEFAULT_REFRESH_INTERVAL_MS = 20_000;
/** The kernel's default when the parameter cannot be read. */
const DEFAULT_NBDS_MAX = 16;
/** The exact remedy printed when the module is missing. */
export const NBD_MODULE_REMEDY = 'modprobe nbd nbds_max=128';

/**
 * Reserves a free kernel NBD device, safely across processes and interoperable with the scheme of
 * Proxmox's backup provider example: under an flock(2) on
 * `/run/lock/qemu-server/reserved-dev-nbd-nodes.lock` it reads `/run/qemu-server/reserved-dev-nbd-nodes`
 * (`<index> <unix time>` lines, valid 60 s), walks the devices round robin from the newest entry,
 * skips reserved, missing and busy devices (qemu-nbd lock socket, `/sys/block/nbdN/pid`), binds one
 * with `connect` and records it.
 *
 * bp additionally holds an flock on a per-device owner file for the whole life of the slot. The
 * kernel drops it when the owner dies, so a reservation of a crashed bp process is recovered at once
 * instead of after the 60 s expiry, and bp processes never share a device even past that expiry.
 *
 * @throws BpError `BP_NBD_MODULE_MISSING` (remedy: `modprobe nbd nbds_max=128`),
 *   `BP_NBD_NO_FREE_DEVICE`, `BP_LOCKED` if the global lock stays taken, or whatever `connect` throws.
 */
export async function reserveNbdSlot(options: ReserveNbdSlotOptions = {}): Promise<NbdSlot> {
  const paths = nbdSlotPaths(options.roots);
  await assertModuleLoaded(paths);
  const nbdsMax = await readNbdsMax(paths);
  await Promise.all([mkdir(dirname(paths.lockFile), { recursive: true }), mkdir(dirname(paths.reservationFile), { recursive: true }), mkdir(paths.ownerDir, { recursive: true })]);
  const lockTimeoutMs = options.lockTimeoutMs ?? DEFAULT_LOCK_TIMEOUT_MS;

  const picked = await withGlobalLock(paths, lockTimeoutMs, options.signal, () => pickAndBind(paths, nbdsMax, options));
  return createSlot(paths, picked, options, lockTimeoutMs);
}

interface PickedDevice {
  readonly index: number;
  readonly owner: HeldFlock;
  readonly reservedAt: number;
}

async function pickAndBind(paths: NbdSlotPaths, nbdsMax: number, options: ReserveNbdSlotOptions): Promise<PickedDevice> {
  const now = unixNow();
  const valid = validReservations(await readReservations(paths.reservationFile), now);
  const latest = latestReservedIndex(valid);
  const start = latest === undefined ? 0 : latest + 1;
  let checked = 0;
  for (let step = 0; step < nbdsMax; step++) {
    if (options.signal?.aborted) throw new BpError('BP_ABORTED', 'reserving a /dev/nbdX device was aborted', { cause: options.signal.reason });
    const index = (start + step) % nbdsMax;
    if (!(await isCandidate(paths, index, valid))) continue;
    checked++;
    const owner = await acquireFlock(paths.ownerLockFile(index), { timeoutMs: 0 });
    if (!owner) continue; // a live bp process owns it
    try {
      await writeFile(paths.ownerLockFile(index), `${String(process.pid)}\n`);
      const connected = options.connect ? await options.connect(paths.device(index), index) : undefined;
      if (connected === 'busy') {
        await dropOwner(paths, index, owner);
        continue;
      }
      const others = valid.filter((entry) => entry.index !== index);
      await writeReservations(paths.reservationFile, [...others, { index, time: now }]);
      return { index, owner, reservedAt: now };
    } catch (error) {
      await dropOwner(paths, index, owner);
      throw error;
    }
  }
  throw new BpError(
    'BP_NBD_NO_FREE_DEVICE',
    `unable to find a free /dev/nbdX device (${String(nbdsMax)} devices, ${String(checked)} candidates tried); disconnect unused ones with \`qemu-nbd -d /dev/nbdX\` or reload the module with more devices (\`${NBD_MODULE_REMEDY}\`)`,
    { details: { nbdsMax, candidates: checked } },
  );
}

/** Cheap checks first; the owner lock and `connect` decide the rest. */
async function isCandidate(paths: NbdSlotPaths, index: number, valid: readonly NbdReservation[]): Promise<boolean> {
  if (!(await exists(paths.device(index)))) return false;
  if (await isRootSocket(paths.qemuNbdLockSocket(index))) return false;
  if (await hasContent(paths.sysPidFile(index))) return false;
  // A fresh entry without a bp owner file is someone else's (Proxmox) reservation. With an owner
  // file, the owner lock tells whether that bp process is still alive.
  const reserved = valid.some((entry) => entry.index === index);
  return !reserved || (await exists(paths.ownerLockFile(index)));
}

function createSlot(paths: NbdSlotPaths, picked: PickedDevice, options: ReserveNbdSlotOptions, lockTimeoutMs: number): NbdSlot {
  const { index, owner } = picked;
  const devicePath = paths.device(index);
  const stopRenewing = renewReservation(paths, picked, options.refreshIntervalMs ?? DEFAULT_REFRESH_INTERVAL_MS, lockTimeoutMs);
  let releasing: Promise<void> | undefined;
  const release = (): Promise<void> => {
    releasing ??= (async () => {
      await stopRenewing();
      try {
        await options.disconnect?.(devicePath, index);
      } finally {
        // The reservation line stays, as in Proxmox's scheme: it keeps the round robin moving and
        // keeps Proxmox's allocator away until it expires. The owner file stays too, unlocked, which
        // tells bp processes the device is free again right away.
        await owner.release();
      }
    })();
    return releasing;
  };
  return { index, devicePath, release, [Symbol.asyncDispose]: release };
}

/**
 * Rewrites our reservation line with the current time every `intervalMs` (0: never), so it never
 * expires for Proxmox's allocator while we hold the device. Returns the function that stops it.
 */
function renewReservation(paths: NbdSlotPaths, picked: PickedDevice, intervalMs: number, lockTimeoutMs: number): () => Promise<void> {
  if (intervalMs <= 0) return () => Promise.resolve();
  let reservedAt = picked.reservedAt;
  let renewing: Promise<void> = Promise.resolve();
  const renew = async (): Promise<void> => {
    try {
      const now = unixNow();
      await withGlobalLock(paths, lockTimeoutMs, undefined, async () => {
        const entries = validReservations(await readReservations(paths.reservationFile), now);
        const others = entries.filter((entry) => !(entry.index === picked.index && entry.time === reservedAt));
        await writeReservations(paths.reservationFile, [...others, { index: picked.index, time: now }]);
      });
      reservedAt = now;
    } catch {
      // Best effort: the owner lock still protects the device from other bp processes.
    }
  };
  const timer = setInterval(() => {
    renewing = renewing.then(renew);
  }, intervalMs);
  timer.unref();
  return async () => {
    clearInterval(timer);
    await renewing;
  };
}

async function withGlobalLock<T>(paths: NbdSlotPaths, timeoutMs: number, signal: AbortSignal | undefined, body: () => Promise<T>): Promise<T> {
  const lock = await acquireFlock(paths.lockFile, { timeoutMs, signal });
  if (!lock) {
    throw new BpError('BP_LOCKED', `timed out after ${String(timeoutMs)} ms waiting for ${paths.lockFile}; another process holds it`, {
      details: { path: paths.lockFile },
    });
  }
  try {
    return await body();
  } finally {
    await lock.release();
  }
}

async function dropOwner(paths: NbdSlotPaths, index: number, owner: HeldFlock): Promise<void> {
  await rm(paths.ownerLockFile(index), { force: true });
  await owner.release();
}

async function assertModuleLoaded(paths: NbdSlotPaths): Promise<void> {
  if (await exists(paths.moduleDir)) return;
  throw new BpError(
    'BP_NBD_MODULE_MISSING',
    `the kernel nbd module is not loaded (${paths.moduleDir} does not exist); load it as root with \`${NBD_MODULE_REMEDY}\`, or use the userspace NBD path, which needs no module`,
    { details: { moduleDir: paths.moduleDir, remedy: NBD_MODULE_REMEDY } },
  );
}

async function readNbdsMax(paths: NbdSlotPaths): Promise<number> {
  try {
    const value = Number.parseInt((await readFile(paths.nbdsMaxFile, 'utf8')).trim(), 10);
    return Number.isInteger(value) && value > 0 ? value : DEFAULT_NBDS_MAX;
  } catch {
    return DEFAULT_NBDS_MAX;
  }
}

function unixNow(): number {
  return Math.floor(Date.now() / 1000);
}

async function exists(path: string): Promise<boolean> {
  try {
    await access(path, constants.F_OK);
    return true;
  } catch {
    return false;
  }
}

async function isRootSocket(path: string): Promise<boolean> {
  try {
    const info = await stat(path);
    return info.isSocket() && info.uid === 0;
  } catch {
    return false;
  }
}

async function hasContent(path: string): Promise<boolean> {
  try {
    return (await readFile(path, 'utf8')).trim().length > 0;
  } catch {
    return false;
  }
}
