/** PVE::Storage::Plugin::COMMON_TAR_FLAGS without `--one-file-system`. */
export const COMMON_TAR_FLAGS: readonly string[] = Object.freeze([
  '-p',
  '--sparse',
  '--numeric-owner',
  '--acls',
  '--xattrs',
  '--xattrs-include=user.*',
  '--xattrs-include=security.capability',
  '--warning=no-file-ignored',
  '--warning=no-xattr-write',
]);

/** Flags vzdump uses to archive a container: stay on the container's filesystems. */
export const CREATE_TAR_FLAGS: readonly string[] = Object.freeze(['--one-file-system', ...COMMON_TAR_FLAGS]);

/** Flags pct restore uses to extract a container archive (`./dev/*` is left to the container). */
export const EXTRACT_TAR_FLAGS: readonly string[] = Object.freeze([
  ...COMMON_TAR_FLAGS,
  '--skip-old-files',
  '--anchored',
  '--exclude=./dev/*',
]);
