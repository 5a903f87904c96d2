import { fileURLToPath } from 'node:url';
import { BpError, CURRENT_SPECIFICATION_VERSION, type BackupStoragePlugin, type StorageSupports } from '@bp/api';
import { z } from 'zod';
import { PERL_SPEC_KEY, perlProviderFromSpec, type PerlProviderSpec, type PerlStorageConfig } from './perl-provider.js';

// The moduleRef of every Perl provider plugin (dist/perl-provider-ref.js): a child process that
// re-imports the plugin (the container backup child) opens the storage from its config, which
// carries the Perl provider's spec under `bp-perl`.

const noSupports: StorageSupports = { vmMechanisms: [], incremental: false, containerFormats: [], notes: false, protected: false, prune: false, delete: false, verify: false };

function specOf(config: PerlStorageConfig): PerlProviderSpec {
  const spec = config[PERL_SPEC_KEY] as PerlProviderSpec | undefined;
  if (!spec || typeof spec.module !== 'string' || typeof spec.type !== 'string') {
    throw new BpError('BP_INVALID_CONFIG', `the storage config has no '${PERL_SPEC_KEY}' entry; open Perl provider storages through perlProvider()`);
  }
  return spec;
}

/** Opens a Perl provider storage from a config made by a `perlProvider()` plugin. */
export const perlProviderPlugin: BackupStoragePlugin<PerlStorageConfig> = {
  specificationVersion: CURRENT_SPECIFICATION_VERSION,
  type: 'bp-perl-provider',
  configSchema: z.record(z.string(), z.unknown()) as z.ZodType<PerlStorageConfig, unknown>,
  supports: noSupports,
  moduleRef: { module: fileURLToPath(import.meta.url.endsWith('.ts') ? import.meta.url : new URL('./perl-provider-ref.js', import.meta.url)), exportName: 'perlProviderPlugin' },
  open(storeId, config) {
    return perlProviderFromSpec(specOf(config)).open(storeId, config);
  },
};
