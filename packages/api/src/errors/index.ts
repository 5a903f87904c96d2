/**
 * The errors of bp, also published alone as `@bp/api/errors` for consumers that must start fast
 * (CLIs): keep this entry free of run-time zod imports (`import type` only).
 */
export { BpError, toBpError, type BpErrorOptions } from './bp-error.js';
export { ERROR_CODES, type ErrorCode } from './codes.js';
export { parseWithSchema } from './parse-with-schema.js';
export { toolError, type ToolErrorOptions } from './tool-error.js';
