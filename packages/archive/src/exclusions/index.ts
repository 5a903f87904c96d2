export { compileExclusions, type CompiledExclusions, type ExclusionOptions } from './compile-exclusions.js';
export type { ExclusionPattern } from './exclusion-pattern.js';
export { ALWAYS_EXCLUDED, STANDARD_EXCLUSIONS } from './standard-exclusions.js';
export { findMatchingPaths } from './find-matching-paths.js';
