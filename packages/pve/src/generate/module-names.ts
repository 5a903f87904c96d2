import { BpError } from '@bp/api';

/** PVE storage type names (`pve-storage-type`-like): lowercase, digits, `-`, `_`, `.`. */
const STORAGE_TYPE = /^[a-z][a-z0-9\-_.]{0,62}$/;

/** The Perl modules generated for one storage type. */
export interface ModuleNames {
  /** storage.cfg type, e.g. `bp-dir`. */
  type: string;
  /** CamelCase stem, e.g. `BpDir`. */
  stem: string;
  storagePackage: string;
  providerPackage: string;
  /** Paths relative to the Perl library directory. */
  storageFile: string;
  providerFile: string;
}

/** The shared runtime every generated module uses (relative to the Perl library directory). */
export const BRIDGE_RUNTIME_FILE = 'BP/PVE/Bridge.pm';

/**
 * Module names for a storage type: `bp-dir` -> `PVE::Storage::Custom::BpDirPlugin` (the storage
 * plugin PVE loads from its Custom directory) and `PVE::BackupProvider::Plugin::BpDir`.
 */
export function moduleNames(type: string): ModuleNames {
  if (!STORAGE_TYPE.test(type)) {
    throw new BpError('BP_INVALID_ARGUMENT', `storage type ${JSON.stringify(type)} is not usable in storage.cfg; use lowercase letters, digits, '-', '_' or '.' starting with a letter (--type NAME)`);
  }
  const stem = type
    .split(/[-_.]+/)
    .filter(Boolean)
    .map((part) => part[0]!.toUpperCase() + part.slice(1))
    .join('');
  return {
    type,
    stem,
    storagePackage: `PVE::Storage::Custom::${stem}Plugin`,
    providerPackage: `PVE::BackupProvider::Plugin::${stem}`,
    storageFile: `PVE/Storage/Custom/${stem}Plugin.pm`,
    providerFile: `PVE/BackupProvider/Plugin/${stem}.pm`,
  };
}
