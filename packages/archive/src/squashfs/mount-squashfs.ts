import { mkdtemp, rmdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { BpError } from '@bp/api';
import { runTool } from '../process/run-tool.js';

/**
 * How an image is mounted: the kernel's squashfs over a loop device (needs root), or
 * squashfuse_ll. The FUSE view reports sparse files as fully allocated (a reader such as tar
 * then stores them without holes) and shows security.capability as trusted.capability
 * (squashfuse 0.1.104), so the kernel mount is preferred whenever possible.
 */
export type SquashfsMountMethod = 'kernel' | 'fuse';

/** Options of {@link mountSquashfs}. */
export interface MountSquashfsOptions {
  /** Default `'auto'`: the kernel when running as root and it works, squashfuse otherwise. */
  method?: SquashfsMountMethod | 'auto';
  /** Where the unique mount point directory is created; default the OS temp directory. */
  parentDirectory?: string;
  signal?: AbortSignal;
}

/** A mounted image; call `unmount()` (idempotent) when done, also after errors. */
export interface SquashfsMount {
  /** The read-only mount point, unique to this mount. */
  readonly path: string;
  readonly method: SquashfsMountMethod;
  unmount(): Promise<void>;
}

const UNMOUNT_ATTEMPTS = 10;

/**
 * Mounts a squashfs image read-only (nodev, nosuid) at a fresh, unique directory, so concurrent
 * restores never share a mount point. This is the `directory` restore mechanism: hand
 * `mount.path` to pct restore as `archive-directory`, and unmount in the cleanup.
 *
 * @throws BpError `BP_MOUNT_FAILED` (the mount point is removed again), `BP_MISSING_TOOLS`.
 */
export async function mountSquashfs(image: string, options: MountSquashfsOptions = {}): Promise<SquashfsMount> {
  const path = await mkdtemp(join(options.parentDirectory ?? tmpdir(), 'bp-squashfs-'));
  const methods: SquashfsMountMethod[] =
    options.method === 'kernel' || options.method === 'fuse' ? [options.method] : process.getuid?.() === 0 ? ['kernel', 'fuse'] : ['fuse'];
  const failures: unknown[] = [];
  for (const method of methods) {
    try {
      await mountWith(method, image, path, options.signal);
      return createMount(path, method);
    } catch (error) {
      failures.push(error);
    }
  }
  await rmdir(path).catch(() => undefined);
  const last = failures.at(-1);
  if (BpError.hasCode(last, 'BP_MISSING_TOOLS')) throw last;
  throw new BpError('BP_MOUNT_FAILED', `Could not mount ${image} (${methods.join(', then ')}): ${failures.map((error) => (error as Error).message).join('; ')}`, {
    cause: last,
    details: { image, methods },
  });
}

/** Mounts `image`, runs `use(path)`, and always unmounts afterwards. */
export async function withMountedSquashfs<T>(image: string, use: (path: string) => Promise<T>, options: MountSquashfsOptions = {}): Promise<T> {
  const mount = await mountSquashfs(image, options);
  try {
    return await use(mount.path);
  } finally {
    await mount.unmount();
  }
}

async function mountWith(method: SquashfsMountMethod, image: string, path: string, signal: AbortSignal | undefined): Promise<void> {
  const what = `Mounting ${image}`;
  if (method === 'kernel') {
    await runTool('mount', ['-t', 'squashfs', '-o', 'ro,loop,nodev,nosuid', image, path], { code: 'BP_MOUNT_FAILED', what, signal });
  } else {
    // The low-level squashfuse keeps inode numbers, so hard links stay recognisable.
    await runTool('squashfuse_ll', ['-o', 'ro,nodev,nosuid', image, path], { code: 'BP_MOUNT_FAILED', what, signal });
  }
}

function createMount(path: string, method: SquashfsMountMethod): SquashfsMount {
  let unmounted: Promise<void> | undefined;
  const unmountOnce = async (): Promise<void> => {
    const [command, args] = method === 'kernel' ? ['umount', [path]] : ['fusermount3', ['-u', path]];
    for (let attempt = 1; ; attempt++) {
      try {
        await runTool(command, args as string[], { code: 'BP_MOUNT_FAILED', what: `Unmounting ${path}` });
        break;
      } catch (error) {
        // A file still open by a finishing reader makes the mount busy for a moment.
        if (attempt >= UNMOUNT_ATTEMPTS) throw error;
        await sleep(100 * attempt);
      }
    }
    await rmdir(path);
  };
  return {
    path,
    method,
    unmount: () => (unmounted ??= unmountOnce()),
  };
}
