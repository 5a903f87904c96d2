import { BpError } from '../errors/index.js';

/**
 * Longest archive name bp accepts.
 *
 * PVE itself sets no length limit on `archive-name`. 255 is chosen because the name is used as a
 * path below a provider's storage directory and inside the volume ID `<storeid>:backup/<name>`:
 * it keeps every path segment within Linux `NAME_MAX` (255 bytes) and the whole path far below
 * `PATH_MAX` (4096), and it keeps volume IDs readable in logs and the GUI. The charset is ASCII, so
 * characters and bytes agree.
 */
export const ARCHIVE_NAME_MAX_LENGTH = 255;

/**
 * PVE's `$PVE::Storage::SAFE_CHAR_CLASS_RE` (`[a-zA-Z0-9\-\.\+\=\_]`) plus `/` and `:`, exactly the
 * check vzdump applies to the `archive-name` returned by `backup_init` (PVE/VZDump.pm).
 */
const ARCHIVE_NAME_CHARSET = /^(?:[a-zA-Z0-9\-.+=_]|\/|:)+$/;

/** Why `name` is not an acceptable archive name, or `undefined` when it is. */
export function archiveNameProblem(name: unknown): string | undefined {
  if (typeof name !== 'string') return 'it is not a string';
  if (name.length === 0) return 'it is empty';
  if (name.length > ARCHIVE_NAME_MAX_LENGTH) return `it is longer than ${ARCHIVE_NAME_MAX_LENGTH} characters`;
  if (!ARCHIVE_NAME_CHARSET.test(name)) return 'it contains characters outside [a-zA-Z0-9-.+=_/:]';
  if (name.startsWith('/')) return 'it is an absolute path';
  // Names become paths below the storage: '.', '..' and empty segments would escape or alias.
  for (const segment of name.split('/')) {
    if (segment === '') return 'it has an empty path segment (`//` or a trailing `/`)';
    if (segment === '.' || segment === '..') return `it has a '${segment}' path segment`;
  }
  return undefined;
}

/**
 * True when `name` is a valid archive name (see {@link validateArchiveName}).
 */
export function isValidArchiveName(name: unknown): name is string {
  return archiveNameProblem(name) === undefined;
}

/**
 * Returns `name` if it is a valid archive name, else throws `BP_INVALID_ARCHIVE_NAME`.
 *
 * Rules: non-empty, at most {@link ARCHIVE_NAME_MAX_LENGTH} characters, only PVE's safe
 * characters plus `/` and `:` (what vzdump requires of `backup_init`'s `archive-name`), and —
 * stricter than PVE, because providers map names to paths — no leading `/`, no `.`, `..` or empty
 * segment (which also rules out a trailing `/`).
 */
export function validateArchiveName(name: unknown): string {
  const problem = archiveNameProblem(name);
  if (problem === undefined) return name as string;
  throw new BpError(
    'BP_INVALID_ARCHIVE_NAME',
    `invalid archive name ${JSON.stringify(name)}: ${problem}; use a relative name made of [a-zA-Z0-9-.+=_:] segments joined by '/'`,
    { details: { name: typeof name === 'string' ? name : String(name), problem } },
  );
}
