import { join } from 'node:path';

/** Where the allocator looks; every root is configurable so tests can run on a fake tree. */
export interface NbdSlotRoots {
  /** sysfs root (default `/sys`). */
  readonly sys?: string;
  /** device directory (default `/dev`). */
  readonly dev?: string;
  /** runtime directory (default `/run`); locks live in `<run>/lock`. */
  readonly run?: string;
}

/** Every path the allocator touches, derived from {@link NbdSlotRoots}. */
export interface NbdSlotPaths {
  readonly moduleDir: string;
  readonly nbdsMaxFile: string;
  /** Proxmox's global lock, taken with flock(2). */
  readonly lockFile: string;
  /** Proxmox's reservation list: lines `<index> <unix time>`. */
  readonly reservationFile: string;
  /** Directory of bp's per-device owner locks. */
  readonly ownerDir: string;
  device(index: number): string;
  /** qemu-nbd's control socket while it is connected to `/dev/nbd<index>`. */
  qemuNbdLockSocket(index: number): string;
  /** Present (non-empty) while a client is connected to the device. */
  sysPidFile(index: number): string;
  /** Held with flock(2) by the bp process that owns the device. */
  ownerLockFile(index: number): string;
}

/** Resolves the allocator's paths under the given roots. */
export function nbdSlotPaths(roots: NbdSlotRoots = {}): NbdSlotPaths {
  const sys = roots.sys ?? '/sys';
  const dev = roots.dev ?? '/dev';
  const run = roots.run ?? '/run';
  const ownerDir = join(run, 'lock', 'bp-nbd-slots');
  return {
    moduleDir: join(sys, 'module', 'nbd'),
    nbdsMaxFile: join(sys, 'module', 'nbd', 'parameters', 'nbds_max'),
    lockFile: join(run, 'lock', 'qemu-server', 'reserved-dev-nbd-nodes.lock'),
    reservationFile: join(run, 'qemu-server', 'reserved-dev-nbd-nodes'),
    ownerDir,
    device: (index) => join(dev, `nbd${String(index)}`),
    qemuNbdLockSocket: (index) => join(run, 'lock', `qemu-nbd-nbd${String(index)}`),
    sysPidFile: (index) => join(sys, 'block', `nbd${String(index)}`, 'pid'),
    ownerLockFile: (index) => join(ownerDir, `nbd${String(index)}.lock`),
  };
}
