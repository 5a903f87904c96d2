/** One token of a glob component. */
export type GlobToken =
  | { kind: 'literal'; text: string }
  | { kind: 'any-string' }
  | { kind: 'any-char' }
  | { kind: 'class'; negated: boolean; body: string };

/**
 * Splits one path component of a glob into tokens: `*`, `?`, `[...]` (with `!` or `^` negation)
 * and literals; a backslash escapes the next character. An unclosed `[` is a literal.
 */
export function tokenizeGlobComponent(component: string): GlobToken[] {
  const tokens: GlobToken[] = [];
  let literal = '';
  const flush = (): void => {
    if (literal !== '') tokens.push({ kind: 'literal', text: literal });
    literal = '';
  };
  for (let index = 0; index < component.length; index++) {
    const char = component[index]!;
    if (char === '\\' && index + 1 < component.length) {
      literal += component[++index];
    } else if (char === '*') {
      flush();
      // `**` inside a name is the same as `*`.
      if (tokens.at(-1)?.kind !== 'any-string') tokens.push({ kind: 'any-string' });
    } else if (char === '?') {
      flush();
      tokens.push({ kind: 'any-char' });
    } else if (char === '[') {
      const end = findClassEnd(component, index);
      if (end === -1) {
        literal += char;
        continue;
      }
      flush();
      let body = component.slice(index + 1, end);
      const negated = body.startsWith('!') || body.startsWith('^');
      if (negated) body = body.slice(1);
      tokens.push({ kind: 'class', negated, body });
      index = end;
    } else {
      literal += char;
    }
  }
  flush();
  return tokens;
}

function findClassEnd(component: string, start: number): number {
  let index = start + 1;
  if (component[index] === '!' || component[index] === '^') index++;
  // A `]` right after the opening bracket is a member, not the end.
  if (component[index] === ']') index++;
  const end = component.indexOf(']', index);
  return end;
}

const regexSpecial = /[\\^$.*+?()[\]{}|]/g;

/** Escapes text for use inside a regular expression (also valid POSIX ERE). */
export function escapeRegex(text: string): string {
  return text.replace(regexSpecial, '\\$&');
}

function classToRegex(token: { negated: boolean; body: string }): string {
  // Inside a bracket expression only `\`, `]` and a leading `^` need care; POSIX ERE has no
  // backslash escapes inside brackets, so `\` is kept out by construction of tokens.
  const body = token.body.replace(/\\/g, '');
  return `[${token.negated ? '^' : ''}${body}]`;
}

/**
 * Regex source for one glob component, matching one whole name (no `/`).
 * `anyChar` is the class used for `?` and `*` (`[^/]` in a JS path regex, `.` per component).
 */
export function globComponentToRegex(component: string, anyChar: string): string {
  return tokenizeGlobComponent(component)
    .map((token) => {
      switch (token.kind) {
        case 'literal':
          return escapeRegex(token.text);
        case 'any-string':
          return `${anyChar}*`;
        case 'any-char':
          return anyChar;
        case 'class':
          return classToRegex(token);
      }
    })
    .join('');
}

/** Glob source for GNU tar (fnmatch): literals escaped, wildcards kept. */
export function globComponentToFnmatch(component: string): string {
  return tokenizeGlobComponent(component)
    .map((token) => {
      switch (token.kind) {
        case 'literal':
          return token.text.replace(/[\\*?[]/g, '\\$&');
        case 'any-string':
          return '*';
        case 'any-char':
          return '?';
        case 'class':
          return `[${token.negated ? '!' : ''}${token.body}]`;
      }
    })
    .join('');
}
