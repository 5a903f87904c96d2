import { BpError, type ErrorCode } from '@bp/api';
import { EXIT_CODES, type ExitCode } from '../exit-codes.js';

// Errors the user fixes by changing the command line or a config file: nothing was attempted.
const USAGE_CODES: ReadonlySet<ErrorCode> = new Set<ErrorCode>([
  'BP_INVALID_ARGUMENT',
  'BP_INVALID_CONFIG',
  'BP_INVALID_VOLUME_ID',
  'BP_INVALID_ARCHIVE_NAME',
]);

/** Maps a thrown value to the process exit code (2 usage/config, 130 interrupted, else 1). */
export function exitCodeForError(error: unknown): ExitCode {
  if (!BpError.isInstance(error)) return EXIT_CODES.failed;
  if (error.code === 'BP_ABORTED') return EXIT_CODES.interrupted;
  return USAGE_CODES.has(error.code) ? EXIT_CODES.usage : EXIT_CODES.failed;
}
