import { isAbsolute, resolve } from 'node:path';
import { parseByteSize as parseSize } from '@bp/api/sizes';
import { usageError } from '../errors/usage-error.js';

/** Parses a guest ID (100..999999999) given on the command line. */
export function parseVmid(text: string | undefined, what = 'vmid'): number {
  if (text === undefined || !/^\d+$/.test(text)) throw usageError(`${what} must be a number from 100 to 999999999, got ${JSON.stringify(text ?? '')}`);
  const vmid = Number(text);
  if (vmid < 100 || vmid > 999_999_999) throw usageError(`${what} must be from 100 to 999999999, got ${vmid}`);
  return vmid;
}

/** Parses a byte count like `256M`, `1G`, `4096` (`@bp/api`'s {@link parseByteSize}: binary units, optional `B`/`iB`). */
export function parseByteSize(text: string, what: string): number {
  return parseSize(text, (problem) =>
    usageError(problem === 'malformed' ? `${what} must be a size like 256M or 1G, got ${JSON.stringify(text)}` : `${what} must be positive, got ${JSON.stringify(text)}`),
  );
}

/**
 * Parses a bandwidth limit to bytes per second. A plain number is KiB/s as in vzdump's
 * `--bwlimit`; with a unit (`50M`, `512K`, `1G`) it is that many bytes per second. 0 = unlimited.
 */
export function parseBandwidth(text: string): number {
  if (/^0+$/.test(text.trim())) return 0;
  if (/^\d+$/.test(text.trim())) return Number(text) * 1024;
  return parseByteSize(text.replace(/\/s$/i, ''), '--bwlimit');
}

/** An absolute path for a path given on the command line (relative to the working directory). */
export function absolutePath(cwd: string, text: string): string {
  return isAbsolute(text) ? text : resolve(cwd, text);
}

/** Reads an integer option; undefined when absent. */
export function parseCount(text: string | undefined, what: string): number | undefined {
  if (text === undefined) return undefined;
  if (!/^\d+$/.test(text)) throw usageError(`${what} must be a whole number >= 0, got ${JSON.stringify(text)}`);
  return Number(text);
}

/** A string option's value, or undefined. */
export function stringValue(values: Record<string, unknown>, name: string): string | undefined {
  const value = values[name];
  return typeof value === 'string' ? value : undefined;
}

/** A multiple string option's values (empty when absent). */
export function stringValues(values: Record<string, unknown>, name: string): string[] {
  const value = values[name];
  if (Array.isArray(value)) return value.filter((item): item is string => typeof item === 'string');
  return typeof value === 'string' ? [value] : [];
}

/** Checks a value against a list of allowed words. */
export function oneOf<const T extends string>(text: string | undefined, allowed: readonly T[], what: string): T | undefined {
  if (text === undefined) return undefined;
  if (!(allowed as readonly string[]).includes(text)) throw usageError(`${what} must be one of ${allowed.join(', ')}, got ${JSON.stringify(text)}`);
  return text as T;
}
