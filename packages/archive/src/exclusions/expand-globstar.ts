import type { ExclusionPattern } from './exclusion-pattern.js';

/**
 * A pattern rewritten so a tool without `**` can match it: `anchored`, plain glob components,
 * and `crossesSlash` when one `*` must stand for one or more whole directories.
 */
export interface GlobstarVariant {
  readonly anchored: boolean;
  readonly components: readonly string[];
  readonly crossesSlash: boolean;
}

/**
 * Rewrites `**` for tools that only know `*`:
 * - a leading `**` means "at any depth", i.e. an unanchored pattern without it;
 * - a trailing `**` (one or more names below) becomes `*` that crosses slashes;
 * - an inner `**` (zero or more directories) becomes two variants: removed, and `*` crossing slashes.
 */
export function expandGlobstar(pattern: ExclusionPattern): GlobstarVariant[] {
  let components = [...pattern.components];
  let anchored = pattern.anchored;
  if (components[0] === '**' && components.length > 1) {
    components = components.slice(1);
    anchored = false;
  }
  let variants: GlobstarVariant[] = [{ anchored, components: [], crossesSlash: false }];
  components.forEach((component, index) => {
    if (component !== '**') {
      variants = variants.map((variant) => ({ ...variant, components: [...variant.components, component] }));
      return;
    }
    const last = index === components.length - 1;
    const crossing = variants.map((variant) => ({ ...variant, components: [...variant.components, '*'], crossesSlash: true }));
    variants = last ? crossing : [...variants, ...crossing];
  });
  return variants;
}

/** True when the pattern has a `**` that is neither leading nor trailing. */
export function hasInnerGlobstar(pattern: ExclusionPattern): boolean {
  const { components } = pattern;
  return components.some((component, index) => component === '**' && index > 0 && index < components.length - 1);
}
