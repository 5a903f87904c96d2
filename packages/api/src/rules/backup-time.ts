import { BpError } from '../errors/index.js';

/** Latest epoch second whose formatted form still has a four-digit year (9999-12-31T23:59:59Z). */
export const MAX_BACKUP_TIME = 253_402_300_799;

const BACKUP_TIME_FORMAT = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})Z$/;

/**
 * Formats a backup start time (epoch seconds, as vzdump passes to `backup_init`) as a UTC
 * timestamp `YYYY-MM-DDTHH:MM:SSZ`, the PBS-style backup ID (spec 4.5).
 *
 * Throws `BP_INVALID_ARGUMENT` for anything but an integer in `0..MAX_BACKUP_TIME`.
 */
export function formatBackupTime(epochSeconds: number): string {
  if (!Number.isInteger(epochSeconds) || epochSeconds < 0 || epochSeconds > MAX_BACKUP_TIME) {
    throw new BpError(
      'BP_INVALID_ARGUMENT',
      `backup time ${String(epochSeconds)} is not a whole number of seconds between 0 and ${MAX_BACKUP_TIME}`,
      { details: { epochSeconds: String(epochSeconds) } },
    );
  }
  return new Date(epochSeconds * 1000).toISOString().replace('.000Z', 'Z');
}

/**
 * Epoch seconds of a `YYYY-MM-DDTHH:MM:SSZ` text, or `undefined` if the text is not exactly that
 * form or names no real instant (month 13, 30 February, hour 24, leap second 60).
 */
export function backupTimeFromText(text: string): number | undefined {
  const match = BACKUP_TIME_FORMAT.exec(text);
  if (!match) return undefined;
  const [year, month, day, hour, minute, second] = match.slice(1).map(Number) as [number, number, number, number, number, number];
  const millis = Date.UTC(year, month - 1, day, hour, minute, second);
  // Date.UTC rolls over (Feb 30 -> Mar 2): accept only texts that format back to themselves.
  const epochSeconds = millis / 1000;
  if (!Number.isInteger(epochSeconds) || epochSeconds < 0 || formatBackupTime(epochSeconds) !== text) return undefined;
  return epochSeconds;
}

/**
 * Parses a timestamp written by {@link formatBackupTime} back to epoch seconds.
 *
 * Throws `BP_INVALID_ARGUMENT` unless `text` is exactly `YYYY-MM-DDTHH:MM:SSZ` naming a real UTC
 * instant at or after the epoch.
 */
export function parseBackupTime(text: string): number {
  const epochSeconds = backupTimeFromText(text);
  if (epochSeconds !== undefined) return epochSeconds;
  throw new BpError('BP_INVALID_ARGUMENT', `backup time ${JSON.stringify(text)} is not a UTC timestamp like 2026-11-26T19:18:28Z`, {
    details: { text },
  });
}
