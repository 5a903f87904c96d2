import { UsageError } from './io.js';

const UNITS: Record<string, number> = { '': 1, B: 1, K: 2 ** 10, M: 2 ** 20, G: 2 ** 30, T: 2 ** 40 };

/** Parses `4096`, `64K`, `1M`, `2G`, `1.5G`, `10MiB` into bytes. */
export function parseSize(text: string, what: string): number {
  const match = /^(\d+(?:\.\d+)?)\s*([KMGT]?)(?:i?B)?$/i.exec(text.trim());
  const unit = UNITS[(match?.[2] ?? '').toUpperCase()];
  if (!match?.[1] || unit === undefined) throw new UsageError(`${what}: "${text}" is not a size (e.g. 4096, 64K, 1M, 2G)`);
  const value = Math.round(Number(match[1]) * unit);
  if (!Number.isSafeInteger(value) || value <= 0) throw new UsageError(`${what}: "${text}" must be positive`);
  return value;
}

/** Formats bytes with a binary unit (`1.5G`). */
export function formatSize(bytes: number): string {
  for (const unit of ['T', 'G', 'M', 'K'] as const) {
    const scale = UNITS[unit]!;
    if (bytes >= scale) return `${Number((bytes / scale).toFixed(1))}${unit}`;
  }
  return `${bytes}`;
}
