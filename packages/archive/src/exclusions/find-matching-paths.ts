import { readdir } from 'node:fs/promises';
import { join } from 'node:path';

/**
 * Walks `root` and returns the top-most root-relative paths for which `matches` is true (the
 * contents of a matching directory are not listed). Symlinks are not followed.
 */
export async function findMatchingPaths(root: string, matches: (relativePath: string) => boolean): Promise<string[]> {
  const found: string[] = [];
  const visit = async (relativeDir: string): Promise<void> => {
    const entries = await readdir(join(root, relativeDir), { withFileTypes: true });
    for (const entry of entries) {
      const relativePath = relativeDir === '' ? entry.name : `${relativeDir}/${entry.name}`;
      if (matches(relativePath)) found.push(relativePath);
      else if (entry.isDirectory()) await visit(relativePath);
    }
  };
  await visit('');
  return found.sort();
}
