export { BpError, toBpError, type BpErrorOptions } from './bp-error.js';
export { ERROR_CODES, type ErrorCode } from './codes.js';
export { parseWithSchema } from './parse-with-schema.js';
