import { describe, expect, it } from 'vitest';
import { backupTimeFromText, formatBackupTime, MAX_BACKUP_TIME, parseBackupTime } from './backup-time.js';
import { errorCodeOf } from './testing/error-code-of.js';

describe('formatBackupTime / parseBackupTime', () => {
  it('formats epoch seconds as a UTC timestamp', () => {
    // 2026-11-26 19:18:28 UTC, computed independently of the code under test.
    const epoch = Date.UTC(2026, 10, 26, 19, 18, 28) / 1000;
    expect(formatBackupTime(epoch)).toBe('2026-11-26T19:18:28Z');
    expect(formatBackupTime(1732648708)).toBe('2024-11-26T19:18:28Z');
    expect(formatBackupTime(0)).toBe('1970-01-01T00:00:00Z');
    expect(formatBackupTime(MAX_BACKUP_TIME)).toBe('9999-12-31T23:59:59Z');
  });

  it('round-trips', () => {
    for (const epoch of [0, 1, 951782400 /* 2000-02-29 */, 1732648708, 1798761599, MAX_BACKUP_TIME]) {
      expect(parseBackupTime(formatBackupTime(epoch))).toBe(epoch);
    }
  });

  it.each([-1, 1.5, Number.NaN, Number.POSITIVE_INFINITY, MAX_BACKUP_TIME + 1])('refuses to format %s', (value) => {
    expect(errorCodeOf(() => formatBackupTime(value))).toBe('BP_INVALID_ARGUMENT');
  });

  it.each([
    '',
    '2026-11-26',
    '2026-11-26T19:18:28',
    '2026-11-26T19:18:28.000Z',
    '2026-11-26 19:18:28Z',
    '2026-11-26T19:18:28+00:00',
    '2026-13-01T00:00:00Z',
    '2026-02-29T00:00:00Z',
    '2026-02-30T00:00:00Z',
    '2026-11-26T24:00:00Z',
    '2026-11-26T23:60:00Z',
    '2026-11-26T23:59:60Z',
    '1969-12-31T23:59:59Z',
    '0099-01-01T00:00:00Z',
    ' 2026-11-26T19:18:28Z',
    '2026-11-26T19:18:28Z\n',
    '２026-11-26T19:18:28Z',
  ])('rejects %j', (text) => {
    expect(backupTimeFromText(text)).toBeUndefined();
    expect(() => parseBackupTime(text)).toThrow(/not a UTC timestamp/);
  });

  it('accepts a real leap day', () => {
    expect(parseBackupTime('2028-02-29T12:00:00Z')).toBe(Date.UTC(2028, 1, 29, 12) / 1000);
  });
});
