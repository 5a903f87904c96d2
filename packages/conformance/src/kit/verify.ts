import { BpError } from '@bp/api';
import type { KitExpect } from './types.js';

/** A provider failed a conformance check: `BP_CONFORMANCE` with a message naming the behaviour. */
export function conformanceError(message: string, cause?: unknown): BpError {
  const reason = cause === undefined ? '' : `: ${cause instanceof Error ? cause.message : String(cause)}`;
  return new BpError('BP_CONFORMANCE', `${message}${reason}`, cause === undefined ? {} : { cause });
}

/**
 * The kit's assertions. Value checks go through the caller's `expect(value, message)` so the
 * runner reports them natively; provider calls that must not throw are wrapped so the failure
 * names the behaviour, with the provider's error as cause.
 */
export class Verifier {
  constructor(private readonly expect: KitExpect) {}

  /** Fails with `message` unless `condition` holds. */
  that(condition: boolean, message: string): void {
    this.expect(condition, message).toBe(true);
  }

  /** Fails with `message` unless `actual` deep-equals `expected`. */
  equal(actual: unknown, expected: unknown, message: string): void {
    this.expect(actual, message).toEqual(expected);
  }

  /** Resolves `call`; a throw becomes a `BP_CONFORMANCE` error whose message starts with `message`. */
  async succeeds<T>(call: Promise<T> | (() => Promise<T>), message: string): Promise<T> {
    try {
      return await (typeof call === 'function' ? call() : call);
    } catch (error) {
      throw conformanceError(message, error);
    }
  }

  /** Expects `call` to throw; returns the error. A resolve fails with `message`. */
  async fails(call: Promise<unknown> | (() => Promise<unknown>), message: string): Promise<unknown> {
    try {
      await (typeof call === 'function' ? call() : call);
    } catch (error) {
      return error;
    }
    throw conformanceError(message);
  }
}
