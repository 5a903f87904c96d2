import { describe, expect, it } from 'vitest';
import { parseDirtyMapLine } from './dirty-regions.js';

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
});
