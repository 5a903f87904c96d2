import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { isoWeekOf, localCalendarFields } from './local-calendar.js';
import { errorCodeOf } from '../testing/error-code-of.js';

/** Deterministic pseudo-random instants between 1980 and 2037 (plus DST and year edges). */
function sampleInstants(): number[] {
  const instants = [
    Date.UTC(2026, 9, 25, 0, 59, 59) / 1000, // Vienna: last second of the first 02:xx (CEST)
    Date.UTC(2026, 9, 25, 1, 0, 0) / 1000, // Vienna: first second of the repeated 02:xx (CET)
    Date.UTC(2026, 2, 29, 1, 0, 0) / 1000, // Vienna: 03:00 CEST, the skipped hour's end
    Date.UTC(2026, 11, 31, 23, 30, 0) / 1000,
    Date.UTC(2027, 0, 3, 23, 30, 0) / 1000,
    Date.UTC(2020, 11, 31, 12, 0, 0) / 1000, // ISO week 53 of 2020
    Date.UTC(2021, 0, 1, 12, 0, 0) / 1000,
  ];
  let seed = 12345;
  for (let i = 0; i < 150; i++) {
    seed = (seed * 1103515245 + 12345) % 2147483648;
    instants.push(315532800 + (seed % (2114380800 - 315532800)));
  }
  return instants;
}

/** What GNU date (the C library's localtime + strftime, as Perl uses) says for each instant. */
function dateCommandFields(timeZone: string, instants: number[]): string[] {
  const output = execFileSync('date', ['-f', '-', '+%Y %m %d %H %V %G'], {
    input: instants.map((instant) => `@${instant}`).join('\n'),
    env: { ...process.env, TZ: timeZone, LC_ALL: 'C' },
    encoding: 'utf8',
  });
  return output.trim().split('\n');
}

describe('localCalendarFields', () => {
  it.each(['Europe/Vienna', 'America/New_York', 'Australia/Lord_Howe', 'Asia/Kolkata', 'Pacific/Chatham', 'UTC'])(
    'agrees with localtime/strftime in %s',
    (timeZone) => {
      const instants = sampleInstants();
      const expected = dateCommandFields(timeZone, instants);
      const actual = instants.map((instant) => {
        const f = localCalendarFields(instant, timeZone);
        const pad = (n: number): string => String(n).padStart(2, '0');
        return `${f.year} ${pad(f.month)} ${pad(f.day)} ${pad(f.hour)} ${pad(f.isoWeek)} ${f.isoWeekYear}`;
      });
      expect(actual).toEqual(expected);
    },
    60_000,
  );

  it('uses the process zone by default', () => {
    const instant = Date.UTC(2026, 9, 25, 1, 15) / 1000;
    const processZone = new Intl.DateTimeFormat().resolvedOptions().timeZone;
    expect(localCalendarFields(instant)).toEqual(localCalendarFields(instant, processZone));
  });

  it('rejects unknown zones and non-numbers', () => {
    expect(() => localCalendarFields(0, 'Mars/Olympus_Mons')).toThrow(/unknown time zone/);
    expect(errorCodeOf(() => localCalendarFields(Number.NaN, 'UTC'))).toBe('BP_INVALID_ARGUMENT');
  });
});

describe('isoWeekOf', () => {
  it('matches `date +%G-%V` around the 2026/2027 boundary', () => {
    // date -d 2026-12-27 +%G-%V -> 2026-52; 2026-12-28 -> 2026-53; 2027-01-03 -> 2026-53; 2027-01-04 -> 2027-01
    expect(isoWeekOf(2026, 12, 27)).toEqual({ isoWeek: 52, isoWeekYear: 2026 });
    expect(isoWeekOf(2026, 12, 28)).toEqual({ isoWeek: 53, isoWeekYear: 2026 });
    expect(isoWeekOf(2027, 1, 1)).toEqual({ isoWeek: 53, isoWeekYear: 2026 });
    expect(isoWeekOf(2027, 1, 3)).toEqual({ isoWeek: 53, isoWeekYear: 2026 });
    expect(isoWeekOf(2027, 1, 4)).toEqual({ isoWeek: 1, isoWeekYear: 2027 });
    // A Monday 29 December belongs to week 1 of the next year.
    expect(isoWeekOf(2025, 12, 29)).toEqual({ isoWeek: 1, isoWeekYear: 2026 });
    expect(isoWeekOf(2024, 2, 29)).toEqual({ isoWeek: 9, isoWeekYear: 2024 });
  });
});
