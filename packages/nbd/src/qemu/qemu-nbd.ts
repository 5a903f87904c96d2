import { readFile, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { BpError } from '@bp/api/errors';
import { startManagedProcess, stopOnAbort } from './managed-process.js';

/** Options for {@link startQemuNbd}. */
export interface QemuNbdOptions {
  /** Image file to export. */
  readonly image: string;
  /** Image format; always given so qemu-nbd never probes. */
  readonly format: 'qcow2' | 'raw';
  /** NBD export name (default `disk`). */
  readonly exportName?: string;
  /** Export read-only. */
  readonly readOnly?: boolean;
  /** Persistent dirty bitmaps of the image to expose as `qemu:dirty-bitmap:<name>` (`-B`). */
  readonly bitmaps?: readonly string[];
  readonly cache?: 'none' | 'writeback' | 'writethrough' | 'directsync' | 'unsafe';
  readonly aio?: 'threads' | 'native';
  readonly discard?: 'ignore' | 'unmap';
  /** `unmap` needs `discard: 'unmap'`. */
  readonly detectZeroes?: 'off' | 'on' | 'unmap';
  /** Maximum simultaneous clients (`-e`, default 8). */
  readonly shared?: number;
  /** Aborts the start; when it fires later the server is stopped. */
  readonly signal?: AbortSignal;
  /** How long to wait for the socket (default 30 s). */
  readonly readyTimeoutMs?: number;
}

/** A running qemu-nbd serving one export on a private Unix socket. */
export interface QemuNbdServer {
  readonly socketPath: string;
  readonly exportName: string;
  /** `nbd+unix:///<export>?socket=<path>` (libnbd URI). */
  readonly uri: string;
  readonly pid: number;
  /** Stops the server (SIGTERM, SIGKILL after 5 s) and removes its directory. Idempotent. */
  stop(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

const DEFAULT_READY_TIMEOUT_MS = 30_000;
const EXPORT_NAME = /^[\w.:@+-]{1,256}$/;

/** Builds the libnbd URI of an export on a Unix socket. */
export function nbdUnixUri(socketPath: string, exportName: string): string {
  return `nbd+unix:///${uriEscape(exportName)}?socket=${uriEscape(socketPath)}`;
}

/** Percent-encodes everything except unreserved characters and `/`, which libnbd keeps literal. */
function uriEscape(text: string): string {
  return text.replace(/[^\w.~/-]/g, (char) =>
    [...Buffer.from(char, 'utf8')].map((byte) => `%${byte.toString(16).toUpperCase().padStart(2, '0')}`).join(''),
  );
}

function buildArgs(options: QemuNbdOptions, exportName: string, dir: string): string[] {
  const args = [
    `--socket=${join(dir, 'nbd.sock')}`,
    `--pid-file=${join(dir, 'qemu-nbd.pid')}`,
    `--export-name=${exportName}`,
    `--format=${options.format}`,
    `--shared=${String(options.shared ?? 8)}`,
    '--persistent',
  ];
  if (options.readOnly) args.push('--read-only');
  for (const bitmap of options.bitmaps ?? []) args.push(`--bitmap=${bitmap}`);
  if (options.cache) args.push(`--cache=${options.cache}`);
  if (options.aio) args.push(`--aio=${options.aio}`);
  if (options.discard) args.push(`--discard=${options.discard}`);
  if (options.detectZeroes) args.push(`--detect-zeroes=${options.detectZeroes}`);
  // An absolute path never looks like a `protocol:` filename to QEMU.
  args.push(resolve(options.image));
  return args;
}

function validate(options: QemuNbdOptions, exportName: string): void {
  const problems: string[] = [];
  if (!EXPORT_NAME.test(exportName)) problems.push(`export name ${JSON.stringify(exportName)} must match ${String(EXPORT_NAME)}`);
  if (options.shared !== undefined && (!Number.isInteger(options.shared) || options.shared < 1)) {
    problems.push('shared must be a positive integer');
  }
  if (options.detectZeroes === 'unmap' && options.discard !== 'unmap') {
    problems.push("detectZeroes 'unmap' needs discard 'unmap'");
  }
  if (problems.length > 0) {
    throw new BpError('BP_INVALID_ARGUMENT', `invalid qemu-nbd options: ${problems.join('; ')}`, { details: { problems } });
  }
}

async function pidFileWritten(dir: string): Promise<boolean> {
  // qemu-nbd writes its pid file right after listen(2), so a pid in the file means the socket accepts.
  try {
    const [pid, socket] = await Promise.all([readFile(join(dir, 'qemu-nbd.pid'), 'utf8'), stat(join(dir, 'nbd.sock'))]);
    return /^\d+\s*$/.test(pid) && socket.isSocket();
  } catch {
    return false;
  }
}

/**
 * Starts `qemu-nbd` exporting `image` on a Unix socket in a private 0700 temp dir and resolves once
 * the socket accepts connections.
 *
 * @throws BpError `BP_QEMU_FAILED` (with qemu-nbd's stderr) if it exits during start-up,
 *   `BP_TIMEOUT` if it does not get ready, `BP_INVALID_ARGUMENT` for contradictory options,
 *   `BP_ABORTED` when `signal` fires first.
 */
export async function startQemuNbd(options: QemuNbdOptions): Promise<QemuNbdServer> {
  const exportName = options.exportName ?? 'disk';
  validate(options, exportName);
  const process = await startManagedProcess({
    command: 'qemu-nbd',
    dirPrefix: 'bp-qemu-nbd',
    args: (dir) => buildArgs(options, exportName, dir),
    isReady: pidFileWritten,
    readyTimeoutMs: options.readyTimeoutMs ?? DEFAULT_READY_TIMEOUT_MS,
    signal: options.signal,
  });
  const socketPath = join(process.dir, 'nbd.sock');
  const detach = stopOnAbort(options.signal, () => stop());
  const stop = async (): Promise<void> => {
    detach();
    await process.stop();
  };
  return {
    socketPath,
    exportName,
    uri: nbdUnixUri(socketPath, exportName),
    pid: process.pid,
    stop,
    [Symbol.asyncDispose]: stop,
  };
}
