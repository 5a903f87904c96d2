import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { BpError, ERROR_CODES, type BackupProgressFunction, type ErrorCode, type LogFunction } from '@bp/api';
import { execaInUserNamespace } from '@bp/archive';
import { mappedRoot, type IdMapEntry } from '../userns/index.js';
import type { ContainerChildMessage, ContainerChildRequest } from './child-protocol.js';

/** Options of {@link runContainerBackupChild}. */
export interface RunContainerBackupChildOptions {
  request: ContainerChildRequest;
  /** The container's ID map: the child runs as root of a user namespace with it (host uid = mapped root). */
  idMap: readonly IdMapEntry[];
  log: LogFunction;
  /** The provider's progress reports from the child (`progress` messages). */
  onProgress?: BackupProgressFunction;
  signal?: AbortSignal;
}

// From TypeScript sources (tests) the child runs through tsx and resolves @bp/* from sources too;
// from the build it is dist/container-child.js of the installed @bp/host, found by package name
// (this module may be bundled into another package's file, e.g. the bp command).
const runningFromSources = import.meta.url.endsWith('.ts');

function childCommand(): { args: string[]; cwd: string; env: NodeJS.ProcessEnv } {
  if (runningFromSources) {
    const packageRoot = fileURLToPath(new URL('../..', import.meta.url));
    return {
      args: ['--import', 'tsx', fileURLToPath(new URL('./child.ts', import.meta.url))],
      cwd: packageRoot,
      env: { ...process.env, TSX_TSCONFIG_PATH: `${packageRoot}tsconfig.sources.json` },
    };
  }
  const hostRoot = dirname(createRequire(import.meta.url).resolve('@bp/host/package.json'));
  return { args: [join(hostRoot, 'dist', 'container-child.js')], cwd: '/', env: { ...process.env } };
}

function isErrorCode(code: string): code is ErrorCode {
  return Object.hasOwn(ERROR_CODES, code);
}

/**
 * Runs `backupContainer` in a child process as the container's root (spec 1.3 CT-5): PVE forks,
 * unshares a user namespace with the container's ID map and switches to its uid 0, so the child
 * is host uid `backupUserId`, sees the container's files with their in-container owners (a tar
 * records those) and can write only where the mapped root may. The child builds a fresh provider
 * from the plugin's `moduleRef`; its log lines are relayed, and its failure is rethrown as a
 * BpError with the child's code. On abort the child is terminated and awaited.
 */
export async function runContainerBackupChild(options: RunContainerBackupChildOptions): Promise<void> {
  const { request, log, signal } = options;
  signal?.throwIfAborted();
  const { uid } = mappedRoot(options.idMap);
  const command = childCommand();
  const { subprocess: child } = await execaInUserNamespace(process.execPath, command.args, options.idMap, {
    cwd: command.cwd,
    env: { ...command.env, HOME: '/' },
    stdin: 'pipe',
    buffer: false,
    reject: false,
    failureCode: 'BP_BACKUP_FAILED',
  });

  let failure: BpError | undefined;
  let done = false;
  const stderrTail: string[] = [];
  const stdoutLines = createInterface({ input: child.stdout! });
  stdoutLines.on('line', (line) => {
    let message: ContainerChildMessage;
    try {
      message = JSON.parse(line) as ContainerChildMessage;
    } catch {
      log('info', line); // a provider writing to stdout directly
      return;
    }
    if (message.type === 'log') log(message.level, message.message);
    else if (message.type === 'progress') options.onProgress?.(message.progress);
    else if (message.type === 'done') done = true;
    else if (message.type === 'error') {
      failure = new BpError(isErrorCode(message.code) ? message.code : 'BP_PROVIDER_FAILED', message.message, { details: { childCode: message.code } });
    }
  });
  const stderrLines = createInterface({ input: child.stderr! });
  stderrLines.on('line', (line) => {
    stderrTail.push(line);
    if (stderrTail.length > 20) stderrTail.shift();
    log('warn', line);
  });

  const onAbort = (): void => {
    child.kill('SIGTERM');
  };
  signal?.addEventListener('abort', onAbort, { once: true });
  try {
    const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null; error?: Error }>((resolve) => {
      child.once('error', (error) => resolve({ code: null, signal: null, error }));
      child.once('close', (code, exitSignal) => resolve({ code, signal: exitSignal }));
    });
    child.stdin!.on('error', () => {}); // the child may exit before reading everything; its exit says why
    child.stdin!.end(JSON.stringify(request));
    const result = await exit;
    if (signal?.aborted) throw new BpError('BP_ABORTED', `container backup of ${request.vmid} was aborted`, { cause: signal.reason });
    if (result.error) {
      throw new BpError('BP_BACKUP_FAILED', `could not start the container backup child as uid ${uid}: ${result.error.message}`, { cause: result.error });
    }
    if (failure) throw failure;
    if (result.code !== 0 || !done) {
      throw new BpError(
        'BP_PROVIDER_FAILED',
        `container backup child (uid ${uid}) exited with ${result.signal ?? `code ${String(result.code)}`}: ${stderrTail.join('\n') || 'no output'}`,
        { details: { code: result.code, signal: result.signal } },
      );
    }
  } finally {
    signal?.removeEventListener('abort', onAbort);
    stdoutLines.close();
    stderrLines.close();
  }
}
