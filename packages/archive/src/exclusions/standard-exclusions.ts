/** PVE's `stdexcludes`: temporary files and pid files of the container. */
export const STANDARD_EXCLUSIONS: readonly string[] = Object.freeze(['/tmp/?*', '/var/tmp/?*', '/var/run/?*.pid']);

/** Excluded from every archive, as vzdump does. */
export const ALWAYS_EXCLUDED: readonly string[] = Object.freeze(['lost+found']);
