import { BpError } from '../errors/index.js';

/** The contract versions this package knows. */
export const SPECIFICATION_VERSIONS = ['v1'] as const;
/** A contract version. */
export type SpecificationVersion = (typeof SPECIFICATION_VERSIONS)[number];
/** The version this package defines. */
export const CURRENT_SPECIFICATION_VERSION: SpecificationVersion = 'v1';

/**
 * Throws `BP_UNSUPPORTED_SPEC_VERSION` unless `subject.specificationVersion` is a known version.
 * Consumers (the host, the conformance kit) call it before using a provider or storage plugin.
 */
export function assertSpecificationVersion(subject: { specificationVersion?: unknown }, what: string): void {
  const version = subject.specificationVersion;
  if (!(SPECIFICATION_VERSIONS as readonly unknown[]).includes(version)) {
    throw new BpError(
      'BP_UNSUPPORTED_SPEC_VERSION',
      `${what} declares specificationVersion ${JSON.stringify(version)}, but this bp knows ${SPECIFICATION_VERSIONS.join(', ')}; upgrade bp or build the provider against a supported @bp/api`,
      { details: { version, supported: [...SPECIFICATION_VERSIONS] } },
    );
  }
}
