/**
 * Byte sizes as typed on a command line, also published alone as `@bp/api/sizes` for CLIs that
 * must start fast (no zod).
 */
export { parseByteSize, type ByteSizeProblem } from './byte-size.js';
