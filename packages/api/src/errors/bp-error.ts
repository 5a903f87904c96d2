import type { ErrorCode } from './codes.js';

const brand = Symbol.for('@bp/api.BpError');

/** Options accepted by {@link BpError}. */
export interface BpErrorOptions {
  /** The underlying error. */
  cause?: unknown;
  /** Structured facts about the failure (paths, errno, exit codes), safe to print as JSON. */
  details?: Record<string, unknown>;
}

/**
 * The one error class of bp. `code` is stable; `message` says what happened and what to do.
 *
 * Use {@link BpError.isInstance} rather than `instanceof`: it works across duplicate copies of
 * this package.
 */
export class BpError extends Error {
  /** The stable code. */
  readonly code: ErrorCode;
  /** Structured facts about the failure. */
  readonly details: Record<string, unknown>;
  private readonly [brand] = true;

  constructor(code: ErrorCode, message: string, options: BpErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'BpError';
    this.code = code;
    this.details = options.details ?? {};
  }

  /** True for any BpError, whichever copy of @bp/api created it. */
  static isInstance(value: unknown): value is BpError {
    return typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[brand] === true;
  }

  /** True when `value` is a BpError with the given code. */
  static hasCode(value: unknown, code: ErrorCode): value is BpError {
    return BpError.isInstance(value) && value.code === code;
  }

  /** A JSON-safe view for `--json` output and logs. */
  toJSON(): { code: ErrorCode; message: string; details: Record<string, unknown> } {
    return { code: this.code, message: this.message, details: this.details };
  }
}

/**
 * Wraps any thrown value: a BpError passes through unchanged, anything else becomes `code`
 * with `message` and the original as `cause`.
 */
export function toBpError(error: unknown, code: ErrorCode, message: string): BpError {
  if (BpError.isInstance(error)) return error;
  const reason = error instanceof Error ? error.message : String(error);
  return new BpError(code, `${message}: ${reason}`, { cause: error });
}
