import type { ExclusionPattern } from './exclusion-pattern.js';
import { globComponentToRegex } from './glob-component.js';

/**
 * Compiles one pattern to a RegExp over a root-relative path such as `var/log/a.gz` (no leading
 * `./` or `/`). The RegExp also matches every path below a matching directory, because
 * excluding a directory excludes its contents.
 */
export function exclusionPatternToRegExp(pattern: ExclusionPattern): RegExp {
  const { components } = pattern;
  let body = '';
  components.forEach((component, index) => {
    const last = index === components.length - 1;
    if (component === '**') {
      if (components.length === 1) body += '[^/]+';
      else if (last) body += '/[^/]+';
      else body += '(?:[^/]+/)*';
      return;
    }
    body += globComponentToRegex(component, '[^/]');
    const nextIsTrailingGlobstar = index === components.length - 2 && components[index + 1] === '**';
    if (!last && !nextIsTrailingGlobstar) body += '/';
  });
  const prefix = pattern.anchored ? '^' : '^(?:.*/)?';
  return new RegExp(`${prefix}${body}(?:/.*)?$`, 's');
}

/** Normalizes `./a/b`, `/a/b`, `a/b/` to `a/b`; the root itself becomes ''. */
export function toRelativePath(path: string): string {
  return path
    .split('/')
    .filter((component) => component !== '' && component !== '.')
    .join('/');
}
