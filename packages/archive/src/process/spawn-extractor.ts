import { chown, open } from 'node:fs/promises';
import { execa, type Options, type ResultPromise } from 'execa';
import { execaInUserNamespace, type IdMapping } from './user-namespace.js';

/**
 * Starts an extracting tool (`argsFor(targetPath)`) either directly or, with `idMapping`, as
 * root of a user namespace: the target is then chowned to the mapped root and handed over as
 * an open directory (`/proc/self/fd/4`), so its parent directories need not be searchable by
 * the mapped root. `stdin` may be an open file descriptor, which the tool then reads directly.
 */
export async function spawnExtractor(
  command: string,
  argsFor: (targetPath: string) => string[],
  target: string,
  idMapping: IdMapping | undefined,
  stdin: 'pipe' | 'ignore' | number,
  options: Options,
): Promise<{ subprocess: ResultPromise }> {
  // Wrapped: an async function returning the subprocess itself would wait for its exit.
  // A stdio array hands a descriptor to the child as is.
  if (!idMapping) return { subprocess: execa(command, argsFor(target), { ...options, stdio: [stdin, 'pipe', 'pipe'] } as Options) as ResultPromise };
  await chown(target, idMapping.uid, idMapping.gid);
  const directory = await open(target, 'r');
  try {
    return await execaInUserNamespace(command, argsFor('/proc/self/fd/4'), idMapping, { ...options, stdin, extraFds: [directory.fd] } as Options & { extraFds: number[] });
  } finally {
    await directory.close();
  }
}
