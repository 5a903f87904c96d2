import { basename, join } from 'node:path';
import { BpError } from '@bp/api/errors';
import { startManagedProcess, stopOnAbort } from './managed-process.js';
import { QmpClient } from './qmp-client.js';

/** Options shared by {@link startStorageDaemon} and {@link startQemuSystem}. */
export interface QmpProcessOptions {
  /** Extra command-line arguments (block devices, exports, ...). */
  readonly args?: readonly string[];
  /** Aborts the start; when it fires later the process is stopped. */
  readonly signal?: AbortSignal;
  /** How long to wait for the QMP socket (default 30 s). */
  readonly readyTimeoutMs?: number;
}

/** A QEMU process driven over QMP, with a private directory for its sockets. */
export interface QmpProcess {
  /** Connected, capabilities negotiated. */
  readonly qmp: QmpClient;
  readonly pid: number;
  /** Private 0700 temp dir; put NBD sockets and similar here. Removed by `stop()`. */
  readonly dir: string;
  /** Closes QMP, stops the process (SIGTERM, SIGKILL after 5 s) and removes `dir`. Idempotent. */
  stop(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

/** The QMP socket's file name inside the private directory. */
export const QMP_SOCKET_NAME = 'qmp.sock';

/**
 * Starts a QEMU binary whose QMP monitor listens on `<dir>/qmp.sock` and connects to it.
 * `qmpArgs(socketPath)` returns the arguments that create the monitor.
 */
export async function startQmpProcess(
  command: string,
  baseArgs: (qmpSocket: string) => string[],
  options: QmpProcessOptions,
): Promise<QmpProcess> {
  let qmp: QmpClient | undefined;
  const managed = await startManagedProcess({
    command,
    dirPrefix: `bp-${basename(command)}`,
    args: (dir) => [...baseArgs(join(dir, QMP_SOCKET_NAME)), ...(options.args ?? [])],
    isReady: async (dir) => {
      try {
        qmp = await QmpClient.connect(join(dir, QMP_SOCKET_NAME));
        return true;
      } catch (error) {
        // Not listening yet: keep polling.
        if (BpError.hasCode(error, 'BP_QEMU_FAILED') && ['ENOENT', 'ECONNREFUSED'].includes(String(error.details.errno))) return false;
        // The monitor accepted and then closed: the process is usually dying of a bad argument.
        // Keep polling so the start-up loop reports its exit together with its stderr.
        if (BpError.hasCode(error, 'BP_QEMU_FAILED')) return false;
        throw error;
      }
    },
    readyTimeoutMs: options.readyTimeoutMs ?? 30_000,
    signal: options.signal,
  });
  if (!qmp) {
    await managed.stop();
    throw new BpError('BP_QEMU_FAILED', `${command} started without a QMP connection`);
  }
  const client = qmp;
  const detach = stopOnAbort(options.signal, () => stop());
  const stop = async (): Promise<void> => {
    detach();
    await client.close();
    await managed.stop();
  };
  return { qmp: client, pid: managed.pid, dir: managed.dir, stop, [Symbol.asyncDispose]: stop };
}
