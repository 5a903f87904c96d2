const UNITS: Readonly<Record<string, number>> = { '': 1, B: 1, K: 2 ** 10, M: 2 ** 20, G: 2 ** 30, T: 2 ** 40 };

/** Why a text is not a byte size: not of the form `<number>[unit]`, or not a positive whole number of bytes. */
export type ByteSizeProblem = 'malformed' | 'not-positive';

/**
 * Parses a byte count as people type it on a command line: `4096`, `64K`, `256M`, `1.5G`,
 * `10MiB`, `2gb` (binary units, case-insensitive, optional `B`/`iB`). The result is rounded to
 * whole bytes and must be positive; otherwise `problem` makes the caller's error (a usage
 * error of its CLI) and is thrown.
 */
export function parseByteSize(text: string, problem: (kind: ByteSizeProblem) => Error): number {
  const match = /^(\d+(?:\.\d+)?)\s*([KMGTB]?)(?:i?B)?$/i.exec(text.trim());
  const unit = UNITS[(match?.[2] ?? '').toUpperCase()];
  if (!match?.[1] || unit === undefined) throw problem('malformed');
  const value = Math.round(Number(match[1]) * unit);
  if (!Number.isSafeInteger(value) || value <= 0) throw problem('not-positive');
  return value;
}
