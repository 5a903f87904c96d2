import { BpError } from '@bp/api';

/**
 * A wrong command line: `BP_INVALID_ARGUMENT` marked as usage, so it exits 2 and the help hint
 * is printed. `hint` says what to type instead.
 */
export function usageError(message: string, details: Record<string, unknown> = {}): BpError {
  return new BpError('BP_INVALID_ARGUMENT', message, { details: { ...details, usage: true } });
}
