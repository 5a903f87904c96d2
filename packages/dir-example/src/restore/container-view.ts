import { mkdir, mkdtemp, readdir, readFile, rm, rmdir, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { LogFunction } from '@bp/api';
import { exists } from '../util/durable-fs.js';
import { runTool } from '../util/run-tool.js';

const VIEW_PREFIX = 'bp-dir-ct-';
const ROOT = 'root';
const MODE_FILE = 'mode';

/**
 * Exposes a squashfs container archive as a directory for PVE's `directory` restore mechanism,
 * at a place unique to this restore:
 * - a read-only kernel squashfs mount (hard links, sparse files, owners and xattrs are exact) when
 *   the backup recorded no POSIX ACLs;
 * - otherwise, or when the kernel mount is not possible, a private extraction with unsquashfs,
 *   with the ACLs recorded at backup time (squashfs cannot store them) applied again.
 */
export async function openSquashfsView(archive: string, aclDump: string | undefined, key: string, log: LogFunction): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), `${VIEW_PREFIX}${key}-`));
  const root = join(dir, ROOT);
  try {
    if (aclDump === undefined) {
      await mkdir(root, { mode: 0o755 });
      const mounted = await runTool('mount', ['-t', 'squashfs', '-o', 'loop,ro,nodev,nosuid', archive, root], 'BP_MOUNT_FAILED', `mount ${archive}`).then(
        () => true,
        (error: unknown) => (log('warn', `kernel squashfs mount failed (${(error as Error).message}); extracting instead`), false),
      );
      if (mounted) {
        await writeFile(join(dir, MODE_FILE), 'mount\n');
        return root;
      }
      await rmdir(root);
    }
    await writeFile(join(dir, MODE_FILE), 'extract\n');
    await runTool('unsquashfs', ['-quiet', '-no-progress', '-d', root, archive], 'BP_RESTORE_FAILED', `extract ${archive}`);
    if (aclDump !== undefined) await runTool('setfacl', ['--restore', aclDump], 'BP_RESTORE_FAILED', 'restore the recorded ACLs', { cwd: root });
    return root;
  } catch (error) {
    await closeSquashfsViewDir(dir);
    throw error;
  }
}

async function closeSquashfsViewDir(dir: string): Promise<void> {
  const mode = (await readFile(join(dir, MODE_FILE), 'utf8').catch(() => '')).trim();
  const root = join(dir, ROOT);
  if (mode === 'mount') {
    await runTool('umount', [root], 'BP_MOUNT_FAILED', `unmount ${root}`).catch(() => runTool('umount', ['-l', root], 'BP_MOUNT_FAILED', `unmount ${root}`));
    await rmdir(root).catch(() => undefined);
    await rm(dir, { recursive: true, force: true });
    return;
  }
  // Never recurse into something that is still mounted.
  if (await exists(root)) {
    const mounts = await readFile('/proc/self/mounts', 'utf8');
    if (mounts.split('\n').some((line) => line.split(' ')[1] === root)) await runTool('umount', ['-l', root], 'BP_MOUNT_FAILED', `unmount ${root}`);
  }
  await rm(dir, { recursive: true, force: true });
}

/** Releases a view returned by {@link openSquashfsView}. */
export async function closeSquashfsView(root: string): Promise<void> {
  await closeSquashfsViewDir(join(root, '..'));
}

/** Releases every view of `key` (a fresh provider instance finds them by key). */
export async function closeSquashfsViews(key: string): Promise<void> {
  for (const name of await readdir(tmpdir()).catch(() => [] as string[])) {
    if (name.startsWith(`${VIEW_PREFIX}${key}-`)) await closeSquashfsViewDir(join(tmpdir(), name));
  }
}
