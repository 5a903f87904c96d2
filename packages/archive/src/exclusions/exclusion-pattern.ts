import { BpError } from '@bp/api';

/** One exclusion pattern, split into path components. */
export interface ExclusionPattern {
  /** The pattern as given. */
  readonly source: string;
  /** True when the pattern started with `/`: it matches from the container root only. */
  readonly anchored: boolean;
  /** Glob components (`*`, `?`, `[...]` within one name; a component `**` spans directories). */
  readonly components: readonly string[];
}

/**
 * Parses a vzdump/PBS exclusion pattern. A leading `/` anchors it at the container root; a
 * trailing `/` is dropped (the pattern then also matches non-directories, as in GNU tar).
 */
export function parseExclusionPattern(pattern: string): ExclusionPattern {
  const anchored = pattern.startsWith('/');
  const components = pattern.split('/').filter((component) => component !== '' && component !== '.');
  if (components.length === 0) {
    throw new BpError('BP_INVALID_ARGUMENT', `Exclusion pattern "${pattern}" names no path; remove it or name a file or directory.`, {
      details: { pattern },
    });
  }
  if (components.includes('..') || pattern.includes('\0') || pattern.includes('\n')) {
    throw new BpError('BP_INVALID_ARGUMENT', `Exclusion pattern "${pattern}" contains "..", a NUL or a newline; write it relative to the container root.`, {
      details: { pattern },
    });
  }
  // Consecutive `**` components mean the same as one.
  const collapsed = components.filter((component, index) => !(component === '**' && components[index - 1] === '**'));
  return { source: pattern, anchored, components: collapsed };
}
