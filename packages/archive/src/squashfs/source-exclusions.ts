import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { squashfsLiteralRegex } from '../exclusions/squashfs-exclusion-arguments.js';

/**
 * mksquashfs archives one directory; to honour `sources` (normalized `./a/b` paths) everything
 * that is neither a source, inside one, nor a directory leading to one is excluded by its exact
 * path. The directories leading to a source are kept (with their own metadata, unlike tar which
 * only stores the sources). Returns `-regex`-mode patterns to append after `-e`.
 */
export async function squashfsSourceExclusions(directory: string, sources: readonly string[]): Promise<string[]> {
  const relative = sources.map((source) => source.replace(/^\.\/?/, ''));
  if (relative.includes('')) return [];
  const keep = new Set(relative);
  const ancestors = new Set<string>(['']);
  for (const source of relative) {
    const parts = source.split('/');
    for (let length = 1; length < parts.length; length++) ancestors.add(parts.slice(0, length).join('/'));
  }
  const excluded: string[] = [];
  for (const ancestor of [...ancestors].sort()) {
    if ([...keep].some((source) => ancestor === source || ancestor.startsWith(`${source}/`))) continue;
    for (const name of await readdir(join(directory, ancestor))) {
      const path = ancestor === '' ? name : `${ancestor}/${name}`;
      if (!keep.has(path) && !ancestors.has(path)) excluded.push(squashfsLiteralRegex(path));
    }
  }
  return excluded;
}
