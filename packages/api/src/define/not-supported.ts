import { BpError } from '../errors/index.js';
import type { StorageSupports } from '../storage/supports.js';

/** The `BP_NOT_SUPPORTED` error of an operation a declaration rules out. */
export function notSupported(what: string, reason: string): BpError {
  return new BpError('BP_NOT_SUPPORTED', `${what} is not supported: ${reason}`, { details: { operation: what } });
}

/** An async method that always throws {@link notSupported}. */
export function refuse(what: string, reason: string): () => Promise<never> {
  return async () => {
    throw notSupported(what, reason);
  };
}

/**
 * Throws `BP_INVALID_ARGUMENT` listing every mismatch between a declaration and the methods given:
 * a declared operation without its method, or a method for an operation the declaration rules out.
 */
export function assertConsistent(what: string, problems: readonly string[]): void {
  if (problems.length === 0) return;
  throw new BpError('BP_INVALID_ARGUMENT', `${what} does not match its supports declaration: ${problems.join('; ')}`, { details: { problems: problems.join('\n') } });
}

/** Mismatch lines for methods that belong to one `supports` flag. */
export function checkMethods(declared: boolean, flag: string, methods: Record<string, unknown>): string[] {
  const given = Object.entries(methods).filter(([, method]) => method !== undefined).map(([name]) => name);
  const missing = Object.keys(methods).filter((name) => !given.includes(name));
  if (declared && missing.length > 0) return [`supports.${flag} is declared but ${missing.join(', ')} ${missing.length === 1 ? 'is' : 'are'} missing`];
  if (!declared && given.length > 0) return [`${given.join(', ')} ${given.length === 1 ? 'is' : 'are'} given but supports.${flag} is not declared (declare it or remove the method)`];
  return [];
}

/** Mismatch lines for optional methods of a `supports` flag that is not declared. */
export function givenButUndeclared(declared: boolean, flag: string, methods: Record<string, unknown>): string[] {
  return declared ? [] : checkMethods(false, flag, methods);
}

/** True when `supports` allows VM backups. */
export function supportsVms(supports: StorageSupports): boolean {
  return supports.vmMechanisms.length > 0;
}

/** True when `supports` allows container backups. */
export function supportsContainers(supports: StorageSupports): boolean {
  return supports.containerFormats.length > 0;
}
