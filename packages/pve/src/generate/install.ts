import { mkdir, readdir, readFile, rename, rm, rmdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { BRIDGE_RUNTIME_FILE, moduleNames } from './module-names.js';
import type { GeneratedFile } from './generate.js';

/** PVE's Perl library directory. */
export const DEFAULT_PERL_DIR = '/usr/share/perl5';

/**
 * Writes generated files below `perlDir`, each through a temporary name and a rename, so a
 * PVE daemon loading plugins at that moment sees the old or the new module, never half of one.
 * Returns the absolute paths written.
 */
export async function installPerlModules(files: readonly GeneratedFile[], perlDir = DEFAULT_PERL_DIR): Promise<string[]> {
  const written: string[] = [];
  for (const file of files) {
    const target = join(perlDir, file.path);
    await mkdir(dirname(target), { recursive: true });
    const temporary = `${target}.bp-tmp-${process.pid}`;
    await writeFile(temporary, file.content, { mode: 0o644 });
    await rename(temporary, target);
    written.push(target);
  }
  return written;
}

/**
 * Removes the modules of one storage type; the shared runtime goes too when no other generated
 * storage module is left. Returns the paths removed.
 */
export async function uninstallPerlModules(type: string, perlDir = DEFAULT_PERL_DIR): Promise<string[]> {
  const names = moduleNames(type);
  const removed: string[] = [];
  for (const file of [names.storageFile, names.providerFile]) {
    const target = join(perlDir, file);
    await rm(target, { force: true });
    removed.push(target);
  }
  const customDir = join(perlDir, 'PVE/Storage/Custom');
  const others = (await readdir(customDir).catch(() => [] as string[])).filter((name) => name.endsWith('.pm'));
  let bridgeUsed = false;
  for (const name of others) {
    if ((await readFile(join(customDir, name), 'utf8').catch(() => '')).includes('use BP::PVE::Bridge;')) bridgeUsed = true;
  }
  if (!bridgeUsed) {
    const runtime = join(perlDir, BRIDGE_RUNTIME_FILE);
    await rm(runtime, { force: true });
    removed.push(runtime);
    for (const dir of [dirname(runtime), dirname(dirname(runtime))]) await rmdir(dir).catch(() => undefined);
  }
  return removed;
}
