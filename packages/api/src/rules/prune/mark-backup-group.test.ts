import { describe, expect, it } from 'vitest';
import { markBackupGroup, type PruneCandidate } from './mark-backup-group.js';
import type { PruneOptionsInput } from './prune-options.js';
import { errorCodeOf } from '../testing/error-code-of.js';

/*
 * Expected marks below are worked out by hand from PVE's documented rules (pve-docs "Backup
 * Retention", the prune simulator, and Storage.pm's prune_mark_backup_group):
 * options run shortest period first (keep-last, hourly, daily, weekly, monthly, yearly); each
 * keeps the newest backup of each of its N most recent periods that are not already covered by
 * a kept backup; everything else is removed; protected backups are neither counted nor removed.
 */

type Entry = PruneCandidate & { id: string };

/** Epoch seconds of an ISO instant (computed with Date, independently of the code under test). */
function at(iso: string): number {
  const millis = Date.parse(iso);
  if (Number.isNaN(millis)) throw new Error(`bad test instant ${iso}`);
  return millis / 1000;
}

function entries(spec: Record<string, string>): Entry[] {
  return Object.entries(spec).map(([id, iso]) => ({ id, ctime: at(iso) }));
}

function marks(list: Entry[], options: PruneOptionsInput, timeZone?: string): Record<string, string> {
  const result = markBackupGroup(list, options, timeZone === undefined ? {} : { timeZone });
  return Object.fromEntries(result.map((entry) => [entry.id, entry.mark]));
}

describe('markBackupGroup: keep-last', () => {
  const five = entries({
    b3: '2026-11-23T10:00:00Z',
    b1: '2026-11-21T10:00:00Z',
    b5: '2026-11-25T10:00:00Z',
    b2: '2026-11-22T10:00:00Z',
    b4: '2026-11-24T10:00:00Z',
  });

  it('keeps the N newest whatever the input order, and returns input order', () => {
    const result = markBackupGroup(five, { 'keep-last': 3 });
    expect(result.map((entry) => [entry.id, entry.mark])).toEqual([
      ['b3', 'keep'],
      ['b1', 'remove'],
      ['b5', 'keep'],
      ['b2', 'remove'],
      ['b4', 'keep'],
    ]);
  });

  it('keeps everything when N exceeds the group', () => {
    expect(Object.values(marks(five, 'keep-last=10'))).toEqual(['keep', 'keep', 'keep', 'keep', 'keep']);
  });

  it('counts equal ctimes as one backup: the later one in input order is removed', () => {
    // keep-last's period id is the ctime itself, so two backups of the same second share one.
    const list = entries({ first: '2026-11-25T10:00:00Z', twin: '2026-11-25T10:00:00Z', older: '2026-11-24T10:00:00Z', oldest: '2026-11-23T10:00:00Z' });
    expect(marks(list, { 'keep-last': 2 })).toEqual({ first: 'keep', twin: 'remove', older: 'keep', oldest: 'remove' });
  });

  it('does not modify its input and carries extra fields', () => {
    const list = [{ id: 'a', ctime: 10, volid: 'x:backup/a' }, { id: 'b', ctime: 20, volid: 'x:backup/b' }];
    const snapshot = structuredClone(list);
    const result = markBackupGroup(list, { 'keep-last': 1 });
    expect(list).toEqual(snapshot);
    expect(result).toEqual([
      { id: 'a', ctime: 10, volid: 'x:backup/a', mark: 'remove' },
      { id: 'b', ctime: 20, volid: 'x:backup/b', mark: 'keep' },
    ]);
  });

  it('handles an empty group', () => {
    expect(markBackupGroup([], { 'keep-last': 1 })).toEqual([]);
  });
});

describe('markBackupGroup: keep-daily and keep-hourly across the end of DST (Europe/Vienna, 2026-10-25)', () => {
  // On 2026-10-25 Vienna clocks go from 03:00 CEST back to 02:00 CET, so 02:00-02:59 happens twice.
  const list = entries({
    sat2330: '2026-10-24T21:30:00Z', // 2026-10-24 23:30 CEST
    sun0030: '2026-10-24T22:30:00Z', // 2026-10-25 00:30 CEST
    sun0215cest: '2026-10-25T00:15:00Z', // 2026-10-25 02:15 CEST (first pass of the hour)
    sun0245cest: '2026-10-25T00:45:00Z', // 2026-10-25 02:45 CEST
    sun0215cet: '2026-10-25T01:15:00Z', // 2026-10-25 02:15 CET (repeated hour)
    sun0245cet: '2026-10-25T01:45:00Z', // 2026-10-25 02:45 CET
    sun2359: '2026-10-25T22:59:00Z', // 2026-10-25 23:59 CET
    mon0001: '2026-10-25T23:01:00Z', // 2026-10-26 00:01 CET
  });

  it('keep-daily=2 keeps the newest backup of Monday and of the 25-hour Sunday', () => {
    expect(marks(list, { 'keep-daily': 2 }, 'Europe/Vienna')).toEqual({
      sat2330: 'remove',
      sun0030: 'remove',
      sun0215cest: 'remove',
      sun0245cest: 'remove',
      sun0215cet: 'remove',
      sun0245cet: 'remove',
      sun2359: 'keep',
      mon0001: 'keep',
    });
  });

  it('keep-daily=3 reaches Saturday', () => {
    expect(marks(list, { 'keep-daily': 3 }, 'Europe/Vienna')).toMatchObject({ sat2330: 'keep', sun2359: 'keep', mon0001: 'keep', sun0030: 'remove' });
  });

  it('buckets by the zone given: in UTC the same backups fall on other days', () => {
    // UTC days: 24th = sat2330, sun0030; 25th = all others.
    expect(marks(list, { 'keep-daily': 2 }, 'UTC')).toEqual({
      sat2330: 'remove',
      sun0030: 'keep',
      sun0215cest: 'remove',
      sun0215cet: 'remove',
      sun0245cest: 'remove',
      sun0245cet: 'remove',
      sun2359: 'remove',
      mon0001: 'keep',
    });
  });

  it('keep-hourly treats both passes of 02:xx as one local hour (localtime has no DST field in the id)', () => {
    const repeatedHour = list.filter((entry) => entry.id.startsWith('sun0') || entry.id === 'sat2330');
    expect(marks(repeatedHour, { 'keep-hourly': 2 }, 'Europe/Vienna')).toEqual({
      sat2330: 'remove',
      sun0030: 'keep',
      sun0215cest: 'remove',
      sun0245cest: 'remove',
      sun0215cet: 'remove',
      sun0245cet: 'keep',
    });
    // In UTC those are hours 00 and 01, so the newest of each is kept instead.
    expect(marks(repeatedHour, { 'keep-hourly': 2 }, 'UTC')).toEqual({
      sat2330: 'remove',
      sun0030: 'remove',
      sun0215cest: 'remove',
      sun0245cest: 'keep',
      sun0215cet: 'remove',
      sun0245cet: 'keep',
    });
  });
});

describe('markBackupGroup: keep-weekly across the ISO-year boundary 2026/2027', () => {
  // date +%G-%V: 12-27 -> 2026-52; 12-28, 12-31, 01-01, 01-03 -> 2026-53; 01-04, 01-05 -> 2027-01.
  const list = entries({
    dec27: '2026-12-27T12:00:00Z',
    dec28: '2026-12-28T12:00:00Z',
    dec31: '2026-12-31T12:00:00Z',
    jan01: '2027-01-01T12:00:00Z',
    jan03: '2027-01-03T12:00:00Z',
    jan04: '2027-01-04T12:00:00Z',
    jan05: '2027-01-05T12:00:00Z',
  });

  it.each(['UTC', 'Europe/Vienna'])('keep-weekly=2 keeps one backup of 2027-W01 and one of 2026-W53 (%s)', (timeZone) => {
    // 2026-W53 spans both calendar years, so 2027-01-03 and 2026-12-31 share one week.
    expect(marks(list, { 'keep-weekly': 2 }, timeZone)).toEqual({
      dec27: 'remove',
      dec28: 'remove',
      dec31: 'remove',
      jan01: 'remove',
      jan03: 'keep',
      jan04: 'remove',
      jan05: 'keep',
    });
  });

  it('keep-weekly=3 also keeps 2026-W52', () => {
    expect(marks(list, { 'keep-weekly': 3 }, 'UTC')).toMatchObject({ dec27: 'keep', dec28: 'remove', jan03: 'keep', jan05: 'keep' });
  });
});

describe('markBackupGroup: keep-monthly and keep-yearly', () => {
  const list = entries({
    y2024mar: '2024-03-10T12:00:00Z',
    y2025jan: '2025-01-15T12:00:00Z',
    y2025jun01: '2025-06-01T12:00:00Z',
    y2025jun20: '2025-06-20T12:00:00Z',
    y2026feb01: '2026-02-01T12:00:00Z',
    y2026feb28: '2026-02-28T12:00:00Z',
    y2026nov: '2026-11-01T12:00:00Z',
  });

  it('keep-monthly=3', () => {
    expect(marks(list, { 'keep-monthly': 3 }, 'UTC')).toEqual({
      y2024mar: 'remove',
      y2025jan: 'remove',
      y2025jun01: 'remove',
      y2025jun20: 'keep',
      y2026feb01: 'remove',
      y2026feb28: 'keep',
      y2026nov: 'keep',
    });
  });

  it('keep-yearly=2', () => {
    expect(marks(list, { 'keep-yearly': 2 }, 'UTC')).toEqual({
      y2024mar: 'remove',
      y2025jan: 'remove',
      y2025jun01: 'remove',
      y2025jun20: 'keep',
      y2026feb01: 'remove',
      y2026feb28: 'remove',
      y2026nov: 'keep',
    });
  });

  it('keep-monthly=2,keep-yearly=3: yearly skips 2026 (covered by a monthly keep) and keeps 2025 and 2024', () => {
    expect(marks(list, 'keep-monthly=2,keep-yearly=3', 'UTC')).toEqual({
      y2024mar: 'keep',
      y2025jan: 'remove',
      y2025jun01: 'remove',
      y2025jun20: 'keep',
      y2026feb01: 'remove',
      y2026feb28: 'keep',
      y2026nov: 'keep',
    });
  });

  it('uses the local year: 2026-12-31 23:30 UTC is already 2027 in Vienna', () => {
    const newYear = entries({ late: '2026-12-31T23:30:00Z', noon: '2026-12-31T12:00:00Z' });
    expect(marks(newYear, { 'keep-yearly': 2 }, 'Europe/Vienna')).toEqual({ late: 'keep', noon: 'keep' });
    expect(marks(newYear, { 'keep-yearly': 2 }, 'UTC')).toEqual({ late: 'keep', noon: 'remove' });
    expect(marks(newYear, { 'keep-monthly': 2 }, 'America/New_York')).toEqual({ late: 'keep', noon: 'remove' });
  });
});

describe('markBackupGroup: combined options', () => {
  // Two backups a day (01:00 and 13:00 UTC), 2026-11-20 .. 2026-11-26.
  const list: Entry[] = [];
  for (let day = 20; day <= 26; day++) {
    for (const hour of ['01', '13']) list.push({ id: `${day}-${hour}`, ctime: at(`2026-11-${day}T${hour}:00:00Z`) });
  }

  it('keep-last=2,keep-daily=3: the day covered by keep-last is not counted again by keep-daily', () => {
    const result = marks(list, 'keep-last=2,keep-daily=3', 'UTC');
    const kept = Object.keys(result).filter((id) => result[id] === 'keep');
    // keep-last keeps both backups of the 26th; keep-daily then keeps the newest of the 25th, 24th, 23rd.
    expect(kept.sort()).toEqual(['23-13', '24-13', '25-13', '26-01', '26-13']);
    expect(Object.values(result).filter((mark) => mark === 'remove')).toHaveLength(9);
  });

  it('keep-last=3,keep-daily=2 counts the 25th as covered because keep-last kept its 13:00 backup', () => {
    const result = marks(list, { 'keep-last': 3, 'keep-daily': 2 }, 'UTC');
    const kept = Object.keys(result).filter((id) => result[id] === 'keep');
    expect(kept.sort()).toEqual(['23-13', '24-13', '25-13', '26-01', '26-13']);
  });

  it('keep-daily=2,keep-weekly=2 adds the newest backup of the previous ISO week', () => {
    // 2026-11-23 is a Monday: days 23-26 are week 48, days 20-22 week 47.
    const result = marks(list, { 'keep-daily': 2, 'keep-weekly': 2 }, 'UTC');
    const kept = Object.keys(result).filter((id) => result[id] === 'keep');
    expect(kept.sort()).toEqual(['22-13', '25-13', '26-13']);
  });
});

describe('markBackupGroup: protected and pre-set marks', () => {
  it('never counts or removes protected backups', () => {
    const list: Entry[] = [
      { id: 'newest', ctime: 500, protected: true },
      { id: 'b', ctime: 400 },
      { id: 'c', ctime: 300 },
      { id: 'old-protected', ctime: 100, protected: true, mark: 'remove' },
      { id: 'd', ctime: 200 },
    ];
    expect(marks(list, { 'keep-last': 2 })).toEqual({ newest: 'protected', b: 'keep', c: 'keep', 'old-protected': 'protected', d: 'remove' });
    expect(marks(list, { 'keep-all': true })).toEqual({ newest: 'protected', b: 'keep', c: 'keep', 'old-protected': 'protected', d: 'keep' });
  });

  it('a protected backup does not cover its period', () => {
    const list = entries({ guarded: '2026-11-26T20:00:00Z', same: '2026-11-26T08:00:00Z', before: '2026-11-25T08:00:00Z' });
    const withFlag = list.map((entry) => (entry.id === 'guarded' ? { ...entry, protected: true } : entry));
    expect(marks(withFlag, { 'keep-daily': 1 }, 'UTC')).toEqual({ guarded: 'protected', same: 'keep', before: 'remove' });
  });

  it('a pre-set keep covers its period; renamed is left alone; a pre-set remove stays', () => {
    const list: Entry[] = [
      { id: 'newer', ctime: at('2026-11-26T20:00:00Z') },
      { id: 'pinned', ctime: at('2026-11-26T08:00:00Z'), mark: 'keep' },
      { id: 'renamed', ctime: at('2026-11-25T08:00:00Z'), mark: 'renamed' },
      { id: 'doomed', ctime: at('2026-11-24T08:00:00Z'), mark: 'remove' },
      { id: 'older', ctime: at('2026-11-23T08:00:00Z') },
    ];
    expect(marks(list, { 'keep-daily': 2 }, 'UTC')).toEqual({ newer: 'remove', pinned: 'keep', renamed: 'renamed', doomed: 'remove', older: 'keep' });
  });
});

describe('markBackupGroup: keep-all', () => {
  const list: Entry[] = [
    { id: 'a', ctime: 1 },
    { id: 'b', ctime: 2, mark: 'remove' },
    { id: 'c', ctime: 3, mark: 'renamed' },
    { id: 'd', ctime: 4, protected: true },
  ];

  it.each<[string, PruneOptionsInput]>([
    ['keep-all=1', 'keep-all=1'],
    ['an empty set', {}],
    ['an empty string', ''],
    ['all zero', { 'keep-last': 0, 'keep-yearly': 0 }],
  ])('keeps everything for %s, preserving marks other than remove', (_label, options) => {
    expect(marks(list, options)).toEqual({ a: 'keep', b: 'keep', c: 'renamed', d: 'protected' });
  });
});

describe('markBackupGroup: invalid input', () => {
  it.each<[string, unknown]>([
    ['keep-all with keep-last', { 'keep-all': true, 'keep-last': 2 }],
    ['a negative count', 'keep-daily=-1'],
    ['an unknown key', { 'keep-minutely': 5 }],
  ])('rejects %s with BP_INVALID_CONFIG', (_label, options) => {
    expect(errorCodeOf(() => markBackupGroup([{ ctime: 1 }], options as never))).toBe('BP_INVALID_CONFIG');
  });

  it('rejects a non-numeric ctime and an unknown zone with BP_INVALID_ARGUMENT', () => {
    expect(errorCodeOf(() => markBackupGroup([{ ctime: Number.NaN }], { 'keep-last': 1 }))).toBe('BP_INVALID_ARGUMENT');
    expect(errorCodeOf(() => markBackupGroup([{ ctime: 1 }], { 'keep-last': 1 }, { timeZone: 'No/Where' }))).toBe('BP_INVALID_ARGUMENT');
  });
});
