import type { ExclusionPattern } from './exclusion-pattern.js';
import { expandGlobstar, type GlobstarVariant } from './expand-globstar.js';
import { globComponentToFnmatch, globComponentToRegex } from './glob-component.js';

/**
 * GNU tar arguments that exclude `patterns` from an archive whose member names start with `./`
 * (bp always passes sources as `./...`). `--anchored` and `--wildcards-match-slash` are
 * positional in tar, so each is switched only when the next pattern needs a different setting.
 * Known approximation: in a pattern with `**`, tar's other `*` may also cross `/`.
 */
export function tarExclusionArguments(patterns: readonly ExclusionPattern[]): string[] {
  const args: string[] = ['--wildcards'];
  let anchored: boolean | undefined;
  let crossesSlash: boolean | undefined;
  for (const pattern of patterns) {
    for (const variant of expandGlobstar(pattern).flatMap(protectArchiveRoot)) {
      if (variant.anchored !== anchored) {
        anchored = variant.anchored;
        args.push(anchored ? '--anchored' : '--no-anchored');
      }
      if (variant.crossesSlash !== crossesSlash) {
        crossesSlash = variant.crossesSlash;
        args.push(crossesSlash ? '--wildcards-match-slash' : '--no-wildcards-match-slash');
      }
      const glob = variant.components.map(globComponentToFnmatch).join('/');
      args.push(`--exclude=${variant.anchored ? `./${glob}` : glob}`);
    }
  }
  return args;
}

/**
 * tar matches unanchored patterns against whole member names too, and the container root is the
 * member `.`: a pattern such as `*` or `.*` would drop the whole archive. Such patterns are
 * rewritten to the anchored pair `./X` and `./<anything>/X`.
 */
function protectArchiveRoot(variant: GlobstarVariant): GlobstarVariant[] {
  const first = variant.components[0];
  if (variant.anchored || first === undefined || !new RegExp(`^${globComponentToRegex(first, '[^/]')}$`).test('.')) return [variant];
  return [
    { ...variant, anchored: true },
    { anchored: true, components: ['*', ...variant.components], crossesSlash: true },
  ];
}
