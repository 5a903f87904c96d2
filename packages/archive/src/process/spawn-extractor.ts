import { chown, open } from 'node:fs/promises';
import { execa, type Options, type ResultPromise } from 'execa';
import { type IdMapEntry, mappedRoot } from './id-map.js';
import { execaInUserNamespace } from './user-namespace.js';

/**
 * Starts an extracting tool (`argsFor(targetPath)`) either directly or, with `idMap`, as
 * root of a user namespace: the target is then chowned to the mapped root and handed over as
 * an open directory (`/proc/self/fd/4`), so its parent directories need not be searchable by
 * the mapped root. `stdin` may be an open file descriptor, which the tool then reads directly.
 */
export async function spawnExtractor(
  command: string,
  argsFor: (targetPath: string) => string[],
  target: string,
  idMap: readonly IdMapEntry[] | undefined,
  stdin: 'pipe' | 'ignore' | number,
  options: Options,
): Promise<{ subprocess: ResultPromise }> {
  // Wrapped: an async function returning the subprocess itself would wait for its exit.
  // A stdio array hands a descriptor to the child as is.
  if (!idMap) return { subprocess: execa(command, argsFor(target), { ...options, stdio: [stdin, 'pipe', 'pipe'] } as Options) as ResultPromise };
  const root = mappedRoot(idMap);
  await chown(target, root.uid, root.gid);
  const directory = await open(target, 'r');
  try {
    return await execaInUserNamespace(command, argsFor('/proc/self/fd/4'), idMap, { ...options, stdin, extraFds: [directory.fd] } as Options & { extraFds: number[] });
  } finally {
    await directory.close();
  }
}
