import { setTimeout as sleep } from 'node:timers/promises';
import { BpError } from '@bp/api/errors';
import { execa, type ResultPromise } from 'execa';
import { QEMU_SERVER_ENV } from './server-env.js';
import { registerChild, unregisterChild } from './child-registry.js';
import { createPrivateDir, removePrivateDir } from './private-dir.js';

/** How long a child gets between SIGTERM and SIGKILL. */
const STOP_GRACE_MS = 5_000;
/** Keep at most this much of a child's stderr for error messages. */
const MAX_LOG_CHARS = 16_384;
const POLL_INTERVAL_MS = 25;

/** Options for {@link startManagedProcess}. */
export interface ManagedProcessOptions {
  /** Executable name (looked up in PATH). */
  readonly command: string;
  /** Prefix of the private temp dir. */
  readonly dirPrefix: string;
  /** Builds the argument list once the private directory exists. */
  readonly args: (dir: string) => string[];
  /** Resolves true once the child serves; polled until then. */
  readonly isReady: (dir: string) => Promise<boolean>;
  readonly readyTimeoutMs: number;
  readonly signal?: AbortSignal | undefined;
}

/** A running child with its private directory. */
export interface ManagedProcess {
  readonly pid: number;
  readonly dir: string;
  /** Stops the child (SIGTERM, then SIGKILL) and removes the directory. Idempotent. */
  stop(): Promise<void>;
  /** True once the child has exited, for whatever reason. */
  readonly exited: boolean;
  /** The last part of what the child wrote to stderr. */
  log(): string;
}

type Child = ResultPromise<{ stdin: 'ignore'; stdout: 'pipe'; stderr: 'pipe'; buffer: false; reject: false }>;

/**
 * Spawns a long-running QEMU tool in a private 0700 directory, waits until `isReady` says it serves,
 * and guarantees the child and the directory are gone after `stop()`, after a failed start and, as a
 * last resort, when this process exits.
 */
export async function startManagedProcess(options: ManagedProcessOptions): Promise<ManagedProcess> {
  if (options.signal?.aborted) throw abortedError(options.command, options.signal);
  const dir = await createPrivateDir(options.dirPrefix);
  const args = options.args(dir);
  let child: Child;
  try {
    child = execa(options.command, args, {
      stdin: 'ignore',
      stdout: 'pipe',
      stderr: 'pipe',
      buffer: false,
      reject: false,
      // execa kills the child when this process exits, and follows a SIGTERM with SIGKILL after the grace time.
      cleanup: true,
      env: QEMU_SERVER_ENV,
      forceKillAfterDelay: STOP_GRACE_MS,
    });
  } catch (error) {
    await removePrivateDir(dir);
    throw new BpError('BP_QEMU_FAILED', `could not start ${options.command}: ${String(error)}`, { cause: error });
  }

  let log = '';
  const collect = (chunk: Buffer): void => {
    log = (log + chunk.toString('utf8')).slice(-MAX_LOG_CHARS);
  };
  child.stdout.on('data', collect);
  child.stderr.on('data', collect);

  let exited = false;
  let exitInfo = '';
  const exitPromise = child.then((result) => {
    exited = true;
    exitInfo = result.signal ? `signal ${result.signal}` : `exit code ${String(result.exitCode)}`;
    if (result.failed && result.exitCode === undefined && !result.signal) exitInfo = result.shortMessage ?? 'spawn failed';
  });

  const pid = child.pid;
  const registration = pid === undefined ? undefined : registerChild(pid, dir);

  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      if (!exited) {
        child.kill('SIGTERM');
        await exitPromise;
      }
      await removePrivateDir(dir);
      if (registration) unregisterChild(registration);
    })();
    return stopping;
  };

  const managed: ManagedProcess = {
    pid: pid ?? -1,
    dir,
    stop,
    get exited() {
      return exited;
    },
    log: () => log.trim(),
  };

  try {
    if (pid === undefined) {
      await exitPromise;
      throw new BpError('BP_QEMU_FAILED', `could not start ${options.command} (${exitInfo}); is it installed?`, {
        details: { command: options.command, args },
      });
    }
    await waitUntilReady(managed, options, () => exitInfo, args);
    return managed;
  } catch (error) {
    await stop();
    throw error;
  }
}

async function waitUntilReady(
  managed: ManagedProcess,
  options: ManagedProcessOptions,
  exitInfo: () => string,
  args: string[],
): Promise<void> {
  const deadline = Date.now() + options.readyTimeoutMs;
  for (;;) {
    if (options.signal?.aborted) throw abortedError(options.command, options.signal);
    if (managed.exited) {
      throw new BpError(
        'BP_QEMU_FAILED',
        `${options.command} exited during start-up (${exitInfo()}): ${managed.log() || '(no output)'}`,
        { details: { command: options.command, args, stderr: managed.log() } },
      );
    }
    if (await options.isReady(managed.dir)) {
      if (options.signal?.aborted) continue;
      return;
    }
    if (Date.now() > deadline) {
      throw new BpError(
        'BP_TIMEOUT',
        `${options.command} did not become ready within ${String(options.readyTimeoutMs)} ms; output so far: ${managed.log() || '(none)'}`,
        { details: { command: options.command, args, stderr: managed.log() } },
      );
    }
    await sleep(POLL_INTERVAL_MS);
  }
}

function abortedError(command: string, signal: AbortSignal): BpError {
  return new BpError('BP_ABORTED', `start of ${command} was aborted`, { cause: signal.reason });
}

/**
 * Ties a started resource to an AbortSignal: when the signal fires, `stop` runs. Returns a function
 * that detaches the listener (call it from `stop`).
 */
export function stopOnAbort(signal: AbortSignal | undefined, stop: () => Promise<void>): () => void {
  if (!signal) return () => undefined;
  const onAbort = (): void => {
    void stop();
  };
  signal.addEventListener('abort', onAbort, { once: true });
  return () => signal.removeEventListener('abort', onAbort);
}
