import { createHash } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { identify, nbdUnixUri, QEMU_SERVER_ENV, stopProcess } from '@bp/nbd/qemu';
import { runTool } from '../util/run-tool.js';
import type { ChainLayer } from './backing-chain.js';

const VIEW_PREFIX = 'bp-dir-view-';
const VIEW_FILE = 'disk.raw';
const VIEW_SOCKET = 'nbd.sock';
const VIEW_EXPORT = 'disk';
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

/** A running view of a chain: `source` is handed to the host, `dir` stops it ({@link stopChainView}). */
export interface ChainView {
  dir: string;
  /** A raw file path (FUSE view) or an `nbd+unix://` URI (NBD view). */
  source: string;
}

/**
 * Exposes a validated chain read-only through a detached qemu-storage-daemon, so a later entry
 * point (a fresh provider instance) can stop it with {@link stopChainViews}: as a raw file (FUSE
 * export, what PVE reads; no kernel NBD here) or, for bp's own host, as an NBD export on a Unix
 * socket (no FUSE round trips: the host reads it as fast as the images themselves).
 */
export async function startChainView(layers: readonly ChainLayer[], key: string, kind: 'file' | 'nbd'): Promise<ChainView> {
  const dir = await mkdtemp(join(tmpdir(), `${VIEW_PREFIX}${key}-`));
  try {
    const { args, top } = chainBlockdevArgs(layers);
    let source: string;
    let exportArgs: string[];
    if (kind === 'file') {
      source = join(dir, VIEW_FILE);
      await writeFile(source, '', { mode: 0o600 });
      exportArgs = ['--export', `type=fuse,id=view,node-name=${top},mountpoint=${source},writable=off`];
    } else {
      const socket = join(dir, VIEW_SOCKET);
      source = nbdUnixUri(socket, VIEW_EXPORT);
      exportArgs = ['--nbd-server', `addr.type=unix,addr.path=${socket}`, '--export', `type=nbd,id=view,node-name=${top},name=${VIEW_EXPORT},writable=off`];
    }
    // --daemonize returns once the export serves (the FUSE file is mounted, the socket listens).
    await runTool(
      'qemu-storage-daemon',
      [...args, ...exportArgs, '--daemonize', '--pidfile', join(dir, PID_FILE)],
      'BP_RESTORE_FAILED',
      'expose the backup image read-only',
      { env: QEMU_SERVER_ENV },
    );
    return { dir, source };
  } catch (error) {
    await rm(dir, { recursive: true, force: true });
    throw error;
  }
}

/** Stops the view in `dir` (its daemon, its FUSE mount if any) and removes `dir`. */
export async function stopChainView(dir: string): Promise<void> {
  const pid = Number((await readFile(join(dir, PID_FILE), 'utf8').catch(() => '')).trim());
  // Zombie-aware: a detached daemon is reaped by init, which may take its time.
  if (Number.isInteger(pid) && pid > 0) await stopProcess(await identify(pid), 10_000);
  // The daemon unmounts on exit; a lazy unmount covers a daemon that was killed.
  // (Listed, not stat()ed: a dead daemon's mount point answers ENOTCONN.)
  if ((await readdir(dir).catch(() => [] as string[])).includes(VIEW_FILE)) await runTool('fusermount3', ['-u', '-z', join(dir, VIEW_FILE)], 'BP_MOUNT_FAILED', 'unmount the view').catch(() => undefined);
  await rm(dir, { recursive: true, force: true });
}

/** Stops every view of `key` (normally one) and removes its directory. */
export async function stopChainViews(key: string): Promise<void> {
  const names = await readdir(tmpdir()).catch(() => [] as string[]);
  for (const name of names) if (name.startsWith(`${VIEW_PREFIX}${key}-`)) await stopChainView(join(tmpdir(), name));
}
