import { BpError } from '@bp/api';

// Perl hands the bridge untyped scalars: numbers may arrive as strings ("100"), booleans as
// 1 / 0 / "" / "1", absent values as null (undef). These helpers turn them into the types the
// @bp/api contract promises, and fail with BP_INVALID_ARGUMENT naming the argument otherwise.

function invalid(name: string, expected: string, value: unknown): BpError {
  return new BpError('BP_INVALID_ARGUMENT', `${name} must be ${expected}, got ${JSON.stringify(value)}`, { details: { argument: name } });
}

/** True for Perl's undef (JSON null) and a missing argument. */
export function isAbsent(value: unknown): value is null | undefined {
  return value === null || value === undefined;
}

/** An integer held as a number or as a decimal string. */
export function toInt(value: unknown, name: string): number {
  if (typeof value === 'number' && Number.isSafeInteger(value)) return value;
  if (typeof value === 'string' && /^-?(?:0|[1-9][0-9]*)$/.test(value.trim())) {
    const parsed = Number(value.trim());
    if (Number.isSafeInteger(parsed)) return parsed;
  }
  throw invalid(name, 'an integer', value);
}

/** An integer, or undefined for undef. */
export function toOptionalInt(value: unknown, name: string): number | undefined {
  return isAbsent(value) ? undefined : toInt(value, name);
}

/** Perl truth: 1 / 0, "1" / "0" / "", booleans (JSON::PP::Boolean), undef = false. */
export function toBool(value: unknown, name: string): boolean {
  if (isAbsent(value) || value === false || value === 0 || value === '' || value === '0') return false;
  if (value === true || typeof value === 'number' || typeof value === 'string') return true;
  throw invalid(name, 'a boolean (1 or 0)', value);
}

/** A string; numbers become their decimal text (Perl does not tell them apart). */
export function toStr(value: unknown, name: string): string {
  if (typeof value === 'string') return value;
  if (typeof value === 'number' && Number.isFinite(value)) return String(value);
  throw invalid(name, 'a string', value);
}

/** A string, or undefined for undef. */
export function toOptionalStr(value: unknown, name: string): string | undefined {
  return isAbsent(value) ? undefined : toStr(value, name);
}

/** A hash reference (plain object); undef becomes `{}` when `emptyIfAbsent`. */
export function toHash(value: unknown, name: string, emptyIfAbsent = false): Record<string, unknown> {
  if (isAbsent(value) && emptyIfAbsent) return {};
  if (typeof value === 'object' && value !== null && !Array.isArray(value)) return value as Record<string, unknown>;
  throw invalid(name, 'a hash', value);
}

/** An array reference of strings. */
export function toStrList(value: unknown, name: string): string[] {
  if (!Array.isArray(value)) throw invalid(name, 'a list', value);
  return value.map((item, index) => toStr(item, `${name}[${index}]`));
}

/** Perl's 1 / 0 for a boolean result. */
export function perlBool(value: boolean | undefined): 0 | 1 {
  return value ? 1 : 0;
}

/** `bandwidth-limit` → `bandwidthLimit`: PVE's hyphenated hash keys as camelCase. */
export function camelCase(key: string): string {
  return key.replace(/-([a-z0-9])/g, (_, letter: string) => letter.toUpperCase());
}

/** `archiveName` → `archive-name`: camelCase as PVE's hyphenated hash keys. */
export function hyphenated(key: string): string {
  return key.replace(/[A-Z]/g, (letter) => `-${letter.toLowerCase()}`);
}
