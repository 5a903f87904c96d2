import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** A unique temporary directory per test, removed by the returned cleanup. */
export async function temporaryDirectory(prefix: string): Promise<{ path: string; cleanup: () => Promise<void> }> {
  const path = await mkdtemp(join(tmpdir(), `bp-archive-${prefix}-`));
  return { path, cleanup: () => rm(path, { recursive: true, force: true }) };
}
