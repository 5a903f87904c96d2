import { BpError, type ErrorCode } from '@bp/api';
import { execa, type ExecaError, type Options } from 'execa';

/**
 * Runs a system tool and returns its stdout; any failure becomes a BpError with `code` (a
 * missing tool: `BP_MISSING_TOOLS` naming the Debian package), the tool's stderr in the message.
 */
export async function runTool(
  command: string,
  args: readonly string[],
  code: ErrorCode,
  what: string,
  options: { signal?: AbortSignal; input?: string; env?: Record<string, string> } = {},
): Promise<string> {
  const execaOptions: Options = {
    ...(options.signal ? { cancelSignal: options.signal } : {}),
    ...(options.input !== undefined ? { input: options.input } : { stdin: 'ignore' }),
    ...(options.env ? { env: options.env } : {}),
    maxBuffer: 256 * 1024 * 1024,
  };
  try {
    const { stdout } = await execa(command, args, execaOptions);
    return String(stdout);
  } catch (error) {
    const failure = error as Partial<ExecaError> & { code?: string };
    if (failure.isCanceled) throw new BpError('BP_ABORTED', `${what} was aborted`, { cause: error });
    if (failure.code === 'ENOENT') {
      throw new BpError('BP_MISSING_TOOLS', `${command} is not installed; install ${PACKAGE_OF[command] ?? command} (npm run bootstrap installs it)`, { cause: error });
    }
    const stderr = typeof failure.stderr === 'string' ? failure.stderr.trim() : '';
    throw new BpError(code, `${what} failed: ${stderr || (error instanceof Error ? error.message : String(error))}`, { cause: error, details: { command, exitCode: failure.exitCode } });
  }
}

/** The Debian package of each tool this module drives (for the BP_MISSING_TOOLS hint). */
const PACKAGE_OF: Record<string, string> = {
  sfdisk: 'fdisk',
  blkid: 'util-linux',
  losetup: 'mount',
  mount: 'mount',
  umount: 'mount',
  mdir: 'mtools',
  mcopy: 'mtools',
  tar: 'tar',
  'qemu-img': 'qemu-utils',
  'qemu-storage-daemon': 'qemu-system-common',
};
