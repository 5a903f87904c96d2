import { BpError } from '../../errors/index.js';

/** Calendar fields of an instant in one time zone, as Perl's `localtime` and strftime see them. */
export interface LocalCalendarFields {
  year: number;
  /** 1..12 */
  month: number;
  /** 1..31 */
  day: number;
  /** 0..23 */
  hour: number;
  /** ISO 8601 week number, strftime `%V` (1..53). */
  isoWeek: number;
  /** ISO 8601 week-based year, strftime `%G`. */
  isoWeekYear: number;
}

const formatters = new Map<string, Intl.DateTimeFormat>();

function formatterFor(timeZone: string | undefined): Intl.DateTimeFormat {
  const options: Intl.DateTimeFormatOptions = { year: 'numeric', month: 'numeric', day: 'numeric', hour: 'numeric', hourCycle: 'h23' };
  // The process zone is resolved when a formatter is built, so only explicit zones are cached.
  if (timeZone === undefined) return new Intl.DateTimeFormat('en-US', options);
  let formatter = formatters.get(timeZone);
  if (!formatter) {
    try {
      formatter = new Intl.DateTimeFormat('en-US', { ...options, timeZone });
    } catch (error) {
      throw new BpError('BP_INVALID_ARGUMENT', `unknown time zone ${JSON.stringify(timeZone)}: use an IANA name like Europe/Vienna`, {
        cause: error,
        details: { timeZone },
      });
    }
    formatters.set(timeZone, formatter);
  }
  return formatter;
}

/** ISO week and week-year of a calendar date (the week's Thursday decides the year). */
export function isoWeekOf(year: number, month: number, day: number): { isoWeek: number; isoWeekYear: number } {
  const date = new Date(0);
  date.setUTCFullYear(year, month - 1, day); // unlike Date.UTC, no 0..99 -> 1900+ mapping
  const weekday = date.getUTCDay() === 0 ? 7 : date.getUTCDay();
  date.setUTCDate(date.getUTCDate() + 4 - weekday);
  const isoWeekYear = date.getUTCFullYear();
  const firstOfYear = new Date(0);
  firstOfYear.setUTCFullYear(isoWeekYear, 0, 1);
  const dayOfYear = Math.round((date.getTime() - firstOfYear.getTime()) / 86_400_000);
  return { isoWeek: Math.floor(dayOfYear / 7) + 1, isoWeekYear };
}

/**
 * Local calendar fields of `epochSeconds` in `timeZone` (an IANA name; default: the process's
 * local zone, which is what PVE's `localtime` uses). Throws `BP_INVALID_ARGUMENT` for an unknown
 * zone or a time that is not a finite number.
 */
export function localCalendarFields(epochSeconds: number, timeZone?: string): LocalCalendarFields {
  if (!Number.isFinite(epochSeconds)) {
    throw new BpError('BP_INVALID_ARGUMENT', `backup time ${String(epochSeconds)} is not a number of seconds`, {
      details: { epochSeconds: String(epochSeconds) },
    });
  }
  const fields: Record<string, number> = {};
  for (const part of formatterFor(timeZone).formatToParts(epochSeconds * 1000)) {
    if (part.type === 'year' || part.type === 'month' || part.type === 'day' || part.type === 'hour') fields[part.type] = Number(part.value);
  }
  const { year = NaN, month = NaN, day = NaN, hour = NaN } = fields;
  return { year, month, day, hour, ...isoWeekOf(year, month, day) };
}
