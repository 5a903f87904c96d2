import { BpError, type ErrorCode } from '@bp/api';

const MAX_STDERR = 8192;

/** Keeps the tail of a tool's stderr, enough to explain a failure without unbounded memory. */
export class StderrTail {
  private text = '';

  append(chunk: string): void {
    this.text = (this.text + chunk).slice(-MAX_STDERR);
  }

  toString(): string {
    return this.text.trim();
  }
}

/**
 * Turns a failed tool run into a BpError: a missing binary is `BP_MISSING_TOOLS`, anything else
 * `code` with the tool's stderr in the message and in `details`.
 */
export function toolError(code: ErrorCode, tool: string, what: string, error: unknown, stderr: string): BpError {
  if (BpError.isInstance(error)) return error;
  const errno = (error as { code?: unknown } | undefined)?.code;
  if (errno === 'ENOENT' && stderr === '') {
    return new BpError('BP_MISSING_TOOLS', `${tool} is not installed; install it (Debian: tar, zstd, squashfs-tools, squashfuse, fuse3).`, {
      cause: error,
      details: { tool },
    });
  }
  const exitCode = (error as { exitCode?: unknown } | undefined)?.exitCode;
  const reason = stderr || (error instanceof Error ? error.message : String(error));
  return new BpError(code, `${what} failed (${tool}${typeof exitCode === 'number' ? ` exit ${exitCode}` : ''}): ${reason}`, {
    cause: error,
    details: { tool, exitCode, stderr },
  });
}
