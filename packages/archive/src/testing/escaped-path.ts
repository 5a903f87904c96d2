/** Decodes the octal escapes (`\303\274`, `\\`) getfacl and getfattr use in `# file:` lines. */
export function decodeEscapedPath(text: string): string {
  const bytes: number[] = [];
  for (let index = 0; index < text.length; index++) {
    const char = text[index]!;
    if (char === '\\' && /^[0-7]{3}$/.test(text.slice(index + 1, index + 4))) {
      bytes.push(Number.parseInt(text.slice(index + 1, index + 4), 8));
      index += 3;
    } else if (char === '\\' && text[index + 1] === '\\') {
      bytes.push(0x5c);
      index += 1;
    } else {
      bytes.push(...Buffer.from(char, 'utf8'));
    }
  }
  return Buffer.from(bytes).toString('utf8');
}

/** Splits `# file: <path>` blocks of getfacl/getfattr output into path -> body lines. */
export function parseFileBlocks(output: string, root: string): Map<string, string[]> {
  const blocks = new Map<string, string[]>();
  let current: string[] | undefined;
  for (const line of output.split('\n')) {
    if (line.startsWith('# file: ')) {
      const absolute = decodeEscapedPath(line.slice('# file: '.length));
      const relative = absolute === root ? '' : absolute.slice(root.length + 1);
      current = [];
      blocks.set(relative, current);
    } else if (current && line !== '' && !line.startsWith('#')) {
      current.push(line);
    }
  }
  return blocks;
}
