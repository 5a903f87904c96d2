import { type ErrorCode, toolError } from '@bp/api';
import { execa, type Options } from 'execa';

/**
 * Runs a system tool and returns its stdout; any failure becomes a BpError through `@bp/api`'s
 * {@link toolError} (`code` with the tool's stderr; a missing tool: `BP_MISSING_TOOLS` naming the Debian package).
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
    throw toolError(error, { code, tool: command, what });
  }
}
