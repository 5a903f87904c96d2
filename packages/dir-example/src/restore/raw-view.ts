import { createHash } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { QEMU_SERVER_ENV } from '@bp/nbd/qemu';
import { runTool } from '../util/run-tool.js';
import type { ChainLayer } from './backing-chain.js';

const VIEW_PREFIX = 'bp-dir-view-';
const VIEW_FILE = 'disk.raw';
const PID_FILE = 'qsd.pid';

/** A stable key for one (storage, volume, device) so a fresh instance finds a view again. */
export function viewKey(...parts: string[]): string {
  return createHash('sha256').update(parts.join('\0')).digest('hex').slice(0, 16);
}

/**
 * The qemu-storage-daemon arguments of a read-only chain: every layer is opened explicitly as
 * qcow2 with its backing given by node name (the bottom one with none), so QEMU never follows a
 * backing name from a header or probes a format.
 */
export function chainBlockdevArgs(layers: readonly ChainLayer[]): { args: string[]; top: string } {
  const args: string[] = [];
  let below: string | null = null;
  for (let index = layers.length - 1; index >= 0; index--) {
    const layer = layers[index] as ChainLayer;
    const node = `layer${index}`;
    args.push(
      '--blockdev',
      JSON.stringify({
        driver: 'qcow2',
        'node-name': node,
        'read-only': true,
        file: { driver: 'file', filename: layer.path, 'read-only': true },
        backing: below,
      }),
    );
    below = node;
  }
  return { args, top: below ?? 'layer0' };
}

/**
 * Exposes a validated chain as a raw, read-only file through a qemu-storage-daemon FUSE export
 * (no kernel NBD). The daemon is detached so a later entry point (a fresh provider instance)
 * can stop it with {@link stopRawViews}. Returns the file path.
 */
export async function startRawView(layers: readonly ChainLayer[], key: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), `${VIEW_PREFIX}${key}-`));
  const file = join(dir, VIEW_FILE);
  try {
    await writeFile(file, '', { mode: 0o600 });
    const { args, top } = chainBlockdevArgs(layers);
    await runTool(
      'qemu-storage-daemon',
      [...args, '--export', `type=fuse,id=view,node-name=${top},mountpoint=${file},writable=off`, '--daemonize', '--pidfile', join(dir, PID_FILE)],
      'BP_RESTORE_FAILED',
      'expose the backup image read-only',
      { env: QEMU_SERVER_ENV },
    );
    return file;
  } catch (error) {
    await rm(dir, { recursive: true, force: true });
    throw error;
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Stops the view whose file is `<dir>/disk.raw` and removes `dir`. */
export async function stopRawView(file: string): Promise<void> {
  await stopView(join(file, '..'));
}

async function stopView(dir: string): Promise<void> {
  const pid = Number((await readFile(join(dir, PID_FILE), 'utf8').catch(() => '')).trim());
  if (Number.isInteger(pid) && pid > 0 && alive(pid)) {
    process.kill(pid, 'SIGTERM');
    for (let waited = 0; alive(pid) && waited < 100; waited++) await sleep(100);
    if (alive(pid)) process.kill(pid, 'SIGKILL');
  }
  // The daemon unmounts on exit; a lazy unmount covers a daemon that was killed.
  await runTool('fusermount3', ['-u', '-z', join(dir, VIEW_FILE)], 'BP_MOUNT_FAILED', 'unmount the view').catch(() => undefined);
  await rm(dir, { recursive: true, force: true });
}

/** Stops every view of `key` (normally one) and removes its directory. */
export async function stopRawViews(key: string): Promise<void> {
  const names = await readdir(tmpdir()).catch(() => [] as string[]);
  for (const name of names) if (name.startsWith(`${VIEW_PREFIX}${key}-`)) await stopView(join(tmpdir(), name));
}
