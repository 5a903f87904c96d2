import { BpError } from '@bp/api/errors';
import { execa } from 'execa';

/** A held flock(2) lock; released by {@link HeldFlock.release} or when this process dies. */
export interface HeldFlock {
  readonly path: string;
  /** Releases the lock. Idempotent. */
  release(): Promise<void>;
}

/** Options for {@link acquireFlock}. */
export interface AcquireFlockOptions {
  /** Wait at most this long; 0 means fail at once if another process holds the lock. */
  readonly timeoutMs: number;
  readonly signal?: AbortSignal | undefined;
}

const CONFLICT_EXIT_CODE = 75;
const LOCKED_MARKER = 'bp-flock-held';

/**
 * Takes an exclusive flock(2) on `path` (created if missing) through util-linux `flock`, the same
 * kind of lock Perl's `flock` takes, so Proxmox tools and bp exclude each other.
 *
 * Node has no flock binding, so a small `flock … cat` child holds the lock: it exits, and the kernel
 * drops the lock, when we close its stdin — or when this process dies, which is what makes locks of
 * crashed owners recoverable.
 *
 * @returns the held lock, or `undefined` if another process holds it past `timeoutMs`.
 * @throws BpError `BP_MISSING_TOOLS` without `flock`, `BP_LOCKED` on other flock failures, `BP_ABORTED`.
 */
export async function acquireFlock(path: string, options: AcquireFlockOptions): Promise<HeldFlock | undefined> {
  if (options.signal?.aborted) throw new BpError('BP_ABORTED', `waiting for the lock ${path} was aborted`, { cause: options.signal.reason });
  const waitArgs = options.timeoutMs <= 0 ? ['--nonblock'] : ['--timeout', String(options.timeoutMs / 1000)];
  const child = execa(
    'flock',
    ['--exclusive', ...waitArgs, '--conflict-exit-code', String(CONFLICT_EXIT_CODE), '--no-fork', path, 'sh', '-c', `echo ${LOCKED_MARKER}; exec cat >/dev/null`],
    { stdin: 'pipe', stdout: 'pipe', stderr: 'pipe', buffer: { stdout: false, stderr: true }, reject: false, cleanup: true, cancelSignal: options.signal },
  );
  const held = await new Promise<boolean>((resolve) => {
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => {
      output += chunk.toString('utf8');
      if (output.includes(LOCKED_MARKER)) resolve(true);
    });
    void child.then(() => resolve(false));
  });
  if (held) {
    let releasing: Promise<void> | undefined;
    return {
      path,
      release: () => {
        releasing ??= (async () => {
          child.stdin.end();
          await child;
        })();
        return releasing;
      },
    };
  }
  const result = await child;
  if (result.isCanceled) throw new BpError('BP_ABORTED', `waiting for the lock ${path} was aborted`, { cause: options.signal?.reason });
  if (result.exitCode === CONFLICT_EXIT_CODE) return undefined;
  if (result.failed && result.exitCode === undefined && result.code === 'ENOENT') {
    throw new BpError('BP_MISSING_TOOLS', 'the `flock` command is missing; install util-linux', { cause: result });
  }
  throw new BpError('BP_LOCKED', `could not lock ${path}: ${String(result.stderr).trim() || result.shortMessage}`, {
    details: { path, exitCode: result.exitCode, stderr: result.stderr },
  });
}
