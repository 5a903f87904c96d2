/** A Perl single-quoted string literal: only `\` and `'` need escaping there. */
export function perlString(value: string): string {
  return `'${value.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
}

/** A Perl literal for a JSON-like value (hash refs, array refs, strings, numbers, undef). */
export function perlValue(value: unknown, indent = ''): string {
  if (value === null || value === undefined) return 'undef';
  if (typeof value === 'boolean') return value ? '1' : '0';
  if (typeof value === 'number') return Number.isFinite(value) ? String(value) : 'undef';
  if (typeof value === 'string') return perlString(value);
  const inner = `${indent}    `;
  if (Array.isArray(value)) {
    if (value.length === 0) return '[]';
    return `[\n${value.map((item) => `${inner}${perlValue(item, inner)},`).join('\n')}\n${indent}]`;
  }
  const entries = Object.entries(value as Record<string, unknown>);
  if (entries.length === 0) return '{}';
  return `{\n${entries.map(([key, item]) => `${inner}${perlString(key)} => ${perlValue(item, inner)},`).join('\n')}\n${indent}}`;
}
