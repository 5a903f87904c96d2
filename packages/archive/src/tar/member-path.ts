/** Why a member path is unsafe, or undefined when it stays inside the extraction root. */
export function unsafePathReason(path: string): string | undefined {
  if (path.startsWith('/')) return 'absolute path';
  if (path.split('/').includes('..')) return 'contains ".."';
  if (path.includes('\0')) return 'contains NUL';
  return undefined;
}

/** `./a/b/` and `a/b` both become `a/b`; the root is ''. */
export function normalizeMemberPath(path: string): string {
  return path
    .split('/')
    .filter((component) => component !== '' && component !== '.')
    .join('/');
}
