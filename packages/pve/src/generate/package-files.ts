import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

// From sources (tests) this is src/generate/package-files.ts and finds the package relative to
// itself; from the build it may be bundled into another package's file (the bp command), so the
// installed @bp/pve is found by name.
const runningFromSources = import.meta.url.endsWith('.ts');
const packageRoot = runningFromSources
  ? fileURLToPath(new URL('../../', import.meta.url))
  : `${dirname(createRequire(import.meta.url).resolve('@bp/pve/package.json'))}/`;

/** The root directory of the installed @bp/pve package. */
export function pvePackageRoot(): string {
  return packageRoot;
}

/** The shared Perl runtime shipped with the package. */
export function bridgeRuntimeSource(): string {
  return `${packageRoot}perl/BP/PVE/Bridge.pm`;
}

/**
 * How to start the bridge server: `dist/server.js` from the build; from sources the TypeScript
 * entry through tsx (with `TSX_TSCONFIG_PATH` pointing at tsconfig.sources.json in the environment).
 */
export function defaultServer(): { server: string; nodeArgs: string[] } {
  if (runningFromSources || !existsSync(`${packageRoot}dist/server.js`)) {
    return { server: `${packageRoot}src/server/main.ts`, nodeArgs: ['--import', 'tsx'] };
  }
  return { server: `${packageRoot}dist/server.js`, nodeArgs: [] };
}

/** tsconfig that maps @bp/* to sources, for a server started from sources. */
export function sourcesTsconfig(): string {
  return `${packageRoot}tsconfig.sources.json`;
}
