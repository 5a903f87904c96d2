import { parseExclusionPattern, type ExclusionPattern } from './exclusion-pattern.js';
import { exclusionPatternToRegExp, toRelativePath } from './exclusion-matcher.js';
import { findMatchingPaths } from './find-matching-paths.js';
import { squashfsExclusionRegexes, squashfsLiteralRegex } from './squashfs-exclusion-arguments.js';
import { ALWAYS_EXCLUDED, STANDARD_EXCLUSIONS } from './standard-exclusions.js';
import { tarExclusionArguments } from './tar-exclusion-arguments.js';

/** Options of {@link compileExclusions}. */
export interface ExclusionOptions {
  /** Add PVE's standard exclusions ({@link STANDARD_EXCLUSIONS}). Default false. */
  standard?: boolean;
}

/**
 * Exclusion patterns compiled once for every consumer: a TypeScript matcher and the arguments
 * for GNU tar and mksquashfs. `lost+found` is always excluded.
 */
export interface CompiledExclusions {
  /** Every pattern in effect (yours, the standard set if asked, and `lost+found`). */
  readonly patterns: readonly ExclusionPattern[];
  /** True when a path relative to the container root (`var/log/x`, `./var/log/x` or `/var/log/x`) is excluded. */
  excludes(path: string): boolean;
  /** Arguments for `tar c` with sources given as `./...`. */
  readonly tarArguments: readonly string[];
  /**
   * Arguments for `mksquashfs <root> ...` (`-regex` and `-e ...`; put them last). Patterns
   * mksquashfs cannot express (an inner `**`, an unanchored pattern of several names) are resolved against the tree at `root`.
   */
  squashfsArguments(root: string): Promise<string[]>;
}

/**
 * Compiles vzdump/PBS exclusion patterns: a leading `/` anchors at the container root, other
 * patterns match at any depth; `*`, `?` and `[...]` match within one name (also leading dots),
 * `**` spans zero or more directories (one or more when trailing), `\` escapes.
 *
 * @throws BpError `BP_INVALID_ARGUMENT` for an empty pattern or one with `..`, NUL or newline.
 */
export function compileExclusions(patterns: readonly string[], options: ExclusionOptions = {}): CompiledExclusions {
  const sources = [...(options.standard ? STANDARD_EXCLUSIONS : []), ...patterns, ...ALWAYS_EXCLUDED];
  const parsed = [...new Set(sources)].map(parseExclusionPattern);
  const regexps = parsed.map(exclusionPatternToRegExp);
  const excludes = (path: string): boolean => {
    const relative = toRelativePath(path);
    return relative !== '' && regexps.some((regexp) => regexp.test(relative));
  };
  return {
    patterns: parsed,
    excludes,
    tarArguments: tarExclusionArguments(parsed),
    async squashfsArguments(root: string): Promise<string[]> {
      const { regexes, unresolved } = squashfsExclusionRegexes(parsed);
      if (unresolved.length > 0) {
        const unresolvedRegexps = unresolved.map(exclusionPatternToRegExp);
        const paths = await findMatchingPaths(root, (path) => unresolvedRegexps.some((regexp) => regexp.test(path)));
        regexes.push(...paths.map(squashfsLiteralRegex));
      }
      return ['-regex', '-e', ...regexes];
    },
  };
}

/** Accepts either raw patterns or an already compiled set (as the create functions do). */
export function resolveExclusions(exclude: readonly string[] | CompiledExclusions | undefined, standard: boolean | undefined): CompiledExclusions {
  if (typeof exclude === 'object' && exclude !== null && !Array.isArray(exclude) && 'tarArguments' in exclude) return exclude as CompiledExclusions;
  return compileExclusions((exclude as readonly string[] | undefined) ?? [], { standard: standard ?? false });
}
