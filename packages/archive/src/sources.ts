import { BpError } from '@bp/api';

/**
 * Normalizes vzdump `sources` (relative to the container directory: `./`, `.`, `./srv/data`) to
 * `./`-prefixed paths without trailing slashes, the root as `./`. Duplicates are dropped.
 *
 * @throws BpError `BP_INVALID_ARGUMENT` for absolute paths, `..`, or an empty list.
 */
export function normalizeSources(sources: readonly string[] | undefined): string[] {
  const list = sources ?? ['./'];
  if (list.length === 0) throw new BpError('BP_INVALID_ARGUMENT', 'sources is empty; pass ["./"] for the whole container root.');
  const normalized = list.map((source) => {
    const components = source.split('/').filter((component) => component !== '' && component !== '.');
    if (source.startsWith('/') || components.includes('..') || source.includes('\0')) {
      throw new BpError('BP_INVALID_ARGUMENT', `Source "${source}" must be relative to the container directory and stay inside it (e.g. "./srv/data").`, {
        details: { source },
      });
    }
    return components.length === 0 ? './' : `./${components.join('/')}`;
  });
  return [...new Set(normalized)];
}
