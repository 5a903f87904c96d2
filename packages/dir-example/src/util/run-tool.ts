import { BpError, type ErrorCode } from '@bp/api';
import { execa, type Options } from 'execa';

/**
 * Runs a system tool and returns its stdout. A missing tool becomes BP_MISSING_TOOLS; a failure
 * becomes `code` with the tool's stderr in the message so the user sees what went wrong.
 */
export async function runTool(
  command: string,
  args: readonly string[],
  code: ErrorCode,
  what: string,
  options: Pick<Options, 'cancelSignal' | 'cwd' | 'input' | 'env'> = {},
): Promise<string> {
  try {
    const result = await execa(command, args, { ...options, stdin: options.input === undefined ? 'ignore' : 'pipe', reject: true, stripFinalNewline: true });
    return String(result.stdout);
  } catch (error) {
    const failure = error as { code?: string; stderr?: unknown; shortMessage?: string; isCanceled?: boolean };
    if (failure.code === 'ENOENT') {
      throw new BpError('BP_MISSING_TOOLS', `${command} is not installed; install it to ${what}`, { cause: error });
    }
    if (failure.isCanceled) throw new BpError('BP_ABORTED', `${what} was aborted`, { cause: error });
    const stderr = typeof failure.stderr === 'string' ? failure.stderr.trim() : '';
    throw new BpError(code, `${command} failed to ${what}: ${stderr || failure.shortMessage || String(error)}`, {
      cause: error,
      details: { command, args: [...args] },
    });
  }
}
