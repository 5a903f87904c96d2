import { isDeepStrictEqual, inspect } from 'node:util';
import { BpError } from '@bp/api';
import type { KitAssertion, KitExpect } from '@bp/conformance';

// The conformance kit asserts through the caller's `expect` (vitest's in tests). Outside a test
// runner the CLI hands it this one: `toBe` is Object.is, `toEqual` deep equality that treats a
// property holding undefined as absent (as vitest's toEqual does).

function withoutUndefined(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(withoutUndefined);
  if (value === null || typeof value !== 'object' || Object.getPrototypeOf(value) !== Object.prototype) return value;
  return Object.fromEntries(Object.entries(value).filter(([, item]) => item !== undefined).map(([key, item]) => [key, withoutUndefined(item)]));
}

function show(value: unknown): string {
  return inspect(value, { depth: 4, breakLength: Number.POSITIVE_INFINITY, maxArrayLength: 20, maxStringLength: 200 });
}

/** A KitExpect whose failures are BP_CONFORMANCE errors carrying the kit's message. */
export const kitExpect: KitExpect = (actual: unknown, message?: string): KitAssertion => {
  const fail = (relation: string, expected: unknown): never => {
    throw new BpError('BP_CONFORMANCE', `${message ? `${message}: ` : ''}expected ${show(actual)} ${relation} ${show(expected)}`);
  };
  return {
    toBe(expected) {
      if (!Object.is(actual, expected)) fail('to be', expected);
    },
    toEqual(expected) {
      if (!isDeepStrictEqual(withoutUndefined(actual), withoutUndefined(expected))) fail('to equal', expected);
    },
  };
};
