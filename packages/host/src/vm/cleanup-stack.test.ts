import { describe, expect, it } from 'vitest';
import { CleanupStack } from './cleanup-stack.js';

describe('CleanupStack', () => {
  it('runs every step last-first, passes success on and rethrows the first failure', async () => {
    const calls: string[] = [];
    const reported: string[] = [];
    const stack = new CleanupStack((what) => reported.push(what));
    stack.push('a', async (success) => {
      calls.push(`a:${String(success)}`);
    });
    stack.push('b', async () => {
      calls.push('b');
      throw new Error('b failed');
    });
    stack.push('c', async () => {
      calls.push('c');
      throw new Error('c failed');
    });
    await expect(stack.run(false)).rejects.toThrow('c failed');
    expect(calls).toEqual(['c', 'b', 'a:false']);
    expect(reported).toEqual(['c', 'b']);
    await expect(stack.run(true)).resolves.toBeUndefined();
    expect(calls).toHaveLength(3);
  });
});
