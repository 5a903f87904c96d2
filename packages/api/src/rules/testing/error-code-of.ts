import { BpError } from '../../errors/index.js';

/** Test helper: the BpError code `run` throws, `'not a BpError'` for other throws, `undefined` if it returns. */
export function errorCodeOf(run: () => unknown): string | undefined {
  try {
    run();
  } catch (error) {
    return BpError.isInstance(error) ? error.code : 'not a BpError';
  }
  return undefined;
}
