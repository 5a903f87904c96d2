import { type ErrorCode, toolError } from '@bp/api';
import { execa } from 'execa';

/** Options of {@link runTool}. */
export interface RunToolOptions {
  /** The BpError code of a failure. */
  code: ErrorCode;
  /** What the call does, for the error message ("creating the squashfs image"). */
  what: string;
  signal?: AbortSignal | undefined;
  cwd?: string;
}

/** Runs a tool to completion and returns its stdout; failures become BpErrors with stderr. */
export async function runTool(command: string, args: readonly string[], options: RunToolOptions): Promise<string> {
  try {
    const result = await execa(command, args, {
      stdin: 'ignore',
      ...(options.signal ? { cancelSignal: options.signal } : {}),
      ...(options.cwd ? { cwd: options.cwd } : {}),
    });
    return result.stdout;
  } catch (error) {
    const stderr = String((error as { stderr?: unknown }).stderr ?? '').trim();
    throw toolError(error, { code: options.code, tool: command, what: options.what, stderr });
  }
}
