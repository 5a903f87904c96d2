import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

/** How the generated package refers to the @bp packages it uses. */
export interface BpDependencies {
  /** Package name -> version range or `file:` link. */
  specs: Record<string, string>;
  /** One sentence for the generated README. */
  note: string;
}

function readJson(path: string): { name?: string; version?: string } {
  return JSON.parse(readFileSync(path, 'utf8')) as { name?: string; version?: string };
}

/**
 * The @bp packages are not on the npm registry while bp runs from a checkout: a CLI that lives in
 * `apps/cli` of a bp repository links the generated package to that checkout's packages with
 * `file:` (npm symlinks them; their own dependencies resolve in the checkout, so `npm install`
 * needs the registry only for vitest, typescript, zod and @types/node). Installed from the
 * registry, the CLI gives version ranges of its own release.
 */
export function bpDependencies(cliDir: string, names: readonly string[], cliVersion: string): BpDependencies {
  const repo = dirname(dirname(cliDir));
  const folder = (name: string): string => join(repo, 'packages', name.replace(/^@bp\//, ''));
  const inCheckout = names.every((name) => existsSync(join(folder(name), 'package.json')) && readJson(join(folder(name), 'package.json')).name === name);
  if (inCheckout) {
    return {
      specs: Object.fromEntries(names.map((name) => [name, `file:${folder(name)}`])),
      note: `They link to the bp checkout at ${repo} (\`file:\` dependencies: build it with \`npm run build\` there first); replace them with version ranges once the packages are published.`,
    };
  }
  return { specs: Object.fromEntries(names.map((name) => [name, `^${cliVersion}`])), note: `They come from the npm registry (release ${cliVersion} of bp).` };
}
