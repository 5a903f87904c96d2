import { randomBytes } from 'node:crypto';
import { readFile, rename, rm, writeFile } from 'node:fs/promises';

/** One line of Proxmox's reservation file. */
export interface NbdReservation {
  readonly index: number;
  /** Unix time in seconds. */
  readonly time: number;
}

/** Proxmox treats entries younger than this as reserved. */
export const RESERVATION_TTL_SECONDS = 60;

/** Parses `<index> <unix time>` lines; other lines are ignored, as the Perl reader does. */
export function parseReservations(text: string): NbdReservation[] {
  const entries: NbdReservation[] = [];
  for (const line of text.split('\n')) {
    const match = /^\s*(\d+)\s+(\d+)\s*$/.exec(line);
    if (match) entries.push({ index: Number(match[1]), time: Number(match[2]) });
  }
  return entries;
}

/** Formats reservations as the file's lines. */
export function formatReservations(entries: readonly NbdReservation[]): string {
  return entries.map((entry) => `${String(entry.index)} ${String(entry.time)}\n`).join('');
}

/** Entries still valid at `now` (seconds). */
export function validReservations(entries: readonly NbdReservation[], now: number): NbdReservation[] {
  return entries.filter((entry) => now - entry.time < RESERVATION_TTL_SECONDS);
}

/** The index of the most recent entry (later lines win ties): the round-robin starting point. */
export function latestReservedIndex(entries: readonly NbdReservation[]): number | undefined {
  let latest: NbdReservation | undefined;
  for (const entry of entries) if (!latest || entry.time >= latest.time) latest = entry;
  return latest?.index;
}

/** Reads the reservation file; a missing file means no reservations. */
export async function readReservations(path: string): Promise<NbdReservation[]> {
  try {
    return parseReservations(await readFile(path, 'utf8'));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw error;
  }
}

/** Replaces the reservation file atomically (temp file + rename), so readers never see half a file. */
export async function writeReservations(path: string, entries: readonly NbdReservation[]): Promise<void> {
  const temp = `${path}.tmp.${String(process.pid)}.${randomBytes(4).toString('hex')}`;
  try {
    await writeFile(temp, formatReservations(entries), { mode: 0o644 });
    await rename(temp, path);
  } catch (error) {
    await rm(temp, { force: true });
    throw error;
  }
}
