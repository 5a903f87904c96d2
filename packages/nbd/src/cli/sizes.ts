import { parseByteSize } from '@bp/api/sizes';
import { UsageError } from './io.js';

const UNITS: Record<string, number> = { K: 2 ** 10, M: 2 ** 20, G: 2 ** 30, T: 2 ** 40 };

/** Parses `4096`, `64K`, `1M`, `2G`, `1.5G`, `10MiB` into bytes (`@bp/api`'s {@link parseByteSize}). */
export function parseSize(text: string, what: string): number {
  return parseByteSize(text, (problem) =>
    new UsageError(problem === 'malformed' ? `${what}: "${text}" is not a size (e.g. 4096, 64K, 1M, 2G)` : `${what}: "${text}" must be positive`),
  );
}

/** Formats bytes with a binary unit (`1.5G`). */
export function formatSize(bytes: number): string {
  for (const unit of ['T', 'G', 'M', 'K'] as const) {
    const scale = UNITS[unit]!;
    if (bytes >= scale) return `${Number((bytes / scale).toFixed(1))}${unit}`;
  }
  return `${bytes}`;
}
