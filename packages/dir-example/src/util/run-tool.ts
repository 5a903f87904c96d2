import { type ErrorCode, toolError } from '@bp/api';
import { execa, type Options } from 'execa';

/**
 * Runs a system tool and returns its stdout; a failure becomes a BpError through `@bp/api`'s
 * {@link toolError} (`code` with the tool's stderr, `BP_MISSING_TOOLS`, `BP_ABORTED`).
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
    throw toolError(error, { code, tool: command, what, details: { args: [...args] } });
  }
}
