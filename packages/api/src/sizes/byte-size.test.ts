import { describe, expect, it } from 'vitest';
import { parseByteSize, type ByteSizeProblem } from './byte-size.js';

const problem = (kind: ByteSizeProblem): Error => new Error(kind);

describe('parseByteSize', () => {
  it.each([
    ['4096', 4096],
    ['64K', 64 * 1024],
    ['64k', 64 * 1024],
    ['256M', 256 * 1024 ** 2],
    ['1.5G', 1.5 * 1024 ** 3],
    ['10MiB', 10 * 1024 ** 2],
    ['2gb', 2 * 1024 ** 3],
    ['1T', 1024 ** 4],
    [' 512 B ', 512],
    ['7b', 7],
  ])('%s is %d bytes', (text, bytes) => {
    expect(parseByteSize(text, problem)).toBe(bytes);
  });

  it.each([['fast'], [''], ['1X'], ['-1M'], ['1e3'], ['M'], ['1,5G']])('%s is malformed', (text) => {
    expect(() => parseByteSize(text, problem)).toThrow('malformed');
  });

  it.each([['0'], ['0K'], ['0.4'], ['99999999999T']])('%s is not a positive whole number of bytes', (text) => {
    expect(() => parseByteSize(text, problem)).toThrow('not-positive');
  });
});
