import type { ExclusionPattern } from './exclusion-pattern.js';
import { expandGlobstar, hasInnerGlobstar } from './expand-globstar.js';
import { escapeRegex, globComponentToRegex } from './glob-component.js';

/**
 * mksquashfs `-regex` exclusion for each pattern mksquashfs can express, plus the patterns it
 * cannot (an inner `**`, an unanchored pattern of several names), which the caller resolves
 * against the tree.
 *
 * `-regex` is used instead of `-wildcards` because mksquashfs' fnmatch uses FNM_PERIOD (so `?*`
 * would skip dot files, unlike tar and vzdump) and accepts `...` only as a leading component.
 */
export function squashfsExclusionRegexes(patterns: readonly ExclusionPattern[]): {
  regexes: string[];
  unresolved: ExclusionPattern[];
} {
  const regexes: string[] = [];
  const unresolved: ExclusionPattern[] = [];
  for (const pattern of patterns) {
    const variants = expandGlobstar(pattern);
    // mksquashfs 4.5 drops the whole first directory of an unanchored multi-name pattern
    // (`... var/run` loses `var/tmp` too), so those are resolved against the tree as well.
    if (hasInnerGlobstar(pattern) || variants.some((variant) => !variant.anchored && variant.components.length > 1)) {
      unresolved.push(pattern);
      continue;
    }
    for (const variant of variants) {
      const path = variant.components.map((component) => `^${globComponentToRegex(component, '.')}$`).join('/');
      regexes.push(variant.anchored ? path : `... ${path}`);
    }
  }
  return { regexes, unresolved };
}

/** An mksquashfs `-regex` exclusion that matches exactly one root-relative path. */
export function squashfsLiteralRegex(relativePath: string): string {
  return relativePath
    .split('/')
    .map((component) => `^${escapeRegex(component)}$`)
    .join('/');
}
