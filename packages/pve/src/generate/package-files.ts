import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { BpError } from '@bp/api';

// From sources (tests) this is src/generate/package-files.ts and finds the package relative to
// itself; from the build it may be bundled into another package's file (the bp command), so the
// installed @bp/pve is found by name — on first use, so that a command without PVE never needs it.
const runningFromSources = import.meta.url.endsWith('.ts');
let packageRoot: string | undefined;

/**
 * The root directory of the installed @bp/pve package (ends with `/`).
 *
 * @throws BpError `BP_NOT_FOUND` when @bp/pve cannot be resolved from here.
 */
export function pvePackageRoot(): string {
  if (packageRoot === undefined) {
    if (runningFromSources) packageRoot = fileURLToPath(new URL('../../', import.meta.url));
    else {
      try {
        packageRoot = `${dirname(createRequire(import.meta.url).resolve('@bp/pve/package.json'))}/`;
      } catch (error) {
        throw new BpError('BP_NOT_FOUND', `@bp/pve (the PVE bridge's Perl modules and server) is not installed next to ${fileURLToPath(import.meta.url)}; reinstall bp with npm`, { cause: error });
      }
    }
  }
  return packageRoot;
}

/** The shared Perl runtime shipped with the package. */
export function bridgeRuntimeSource(): string {
  return `${pvePackageRoot()}perl/BP/PVE/Bridge.pm`;
}

/**
 * How to start the bridge server: `dist/server.js` from the build; from sources the TypeScript
 * entry through tsx (with `TSX_TSCONFIG_PATH` pointing at tsconfig.sources.json in the environment).
 */
export function defaultServer(): { server: string; nodeArgs: string[] } {
  const packageRoot = pvePackageRoot();
  if (runningFromSources || !existsSync(`${packageRoot}dist/server.js`)) {
    return { server: `${packageRoot}src/server/main.ts`, nodeArgs: ['--import', 'tsx'] };
  }
  return { server: `${packageRoot}dist/server.js`, nodeArgs: [] };
}

/** tsconfig that maps @bp/* to sources, for a server started from sources. */
export function sourcesTsconfig(): string {
  return `${pvePackageRoot()}tsconfig.sources.json`;
}
