import { expect, test } from 'vitest';
import { NotApplicable } from '../src/index.js';

test('a NotApplicable is recognised by its brand, also from another copy of the package', () => {
  expect(NotApplicable.isInstance(new NotApplicable('no containers'))).toBe(true);
  // What a second copy of @bp/conformance (another node_modules) would throw: another class, same brand.
  const copied = Object.assign(new Error('no containers'), { [Symbol.for('@bp/conformance.NotApplicable')]: true });
  expect(NotApplicable.isInstance(copied)).toBe(true);
  expect(NotApplicable.isInstance(new Error('no containers'))).toBe(false);
  expect(NotApplicable.isInstance({ reason: 'no containers' })).toBe(false);
});
