import { describe, expect, it } from 'vitest';
import { parseAllocationMapLine, parseDirtyMapLine } from './dirty-regions.js';

describe('parseDirtyMapLine', () => {
  it('keeps extents whose type has bit 0 set', () => {
    expect(parseDirtyMapLine('         0     4194304    1  dirty')).toEqual({ offset: 0, length: 4194304 });
    expect(parseDirtyMapLine('   4194304    65536    3  dirty')).toEqual({ offset: 4194304, length: 65536 });
    expect(parseDirtyMapLine('   4194304    65536    0  clean')).toBeUndefined();
    expect(parseDirtyMapLine('')).toBeUndefined();
  });

  it('rejects lines that are not a map', () => {
    expect(() => parseDirtyMapLine('nbdinfo: something else')).toThrow(/unexpected map line/);
  });

  it('keeps allocation extents that may hold data (zero bit clear)', () => {
    expect(parseAllocationMapLine('         0     5046272    0  data')).toEqual({ offset: 0, length: 5046272 });
    expect(parseAllocationMapLine('   5046272     2490368    3  hole,zero')).toBeUndefined();
    expect(parseAllocationMapLine('   5046272       65536    2  zero')).toBeUndefined();
    expect(parseAllocationMapLine('   7536640       65536    1  hole')).toEqual({ offset: 7536640, length: 65536 });
    expect(() => parseAllocationMapLine('0 x 0')).toThrow(/unexpected map line/);
  });
});
