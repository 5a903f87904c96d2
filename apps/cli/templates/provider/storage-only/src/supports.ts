import type { StorageSupports } from '@bp/api';

/**
 * The storage side only: listing, notes, protection, prune and delete of the backups under the
 * storage path. No backups are made yet: add `vmMechanisms` or `containerFormats` and their
 * provider methods (see the `vm` and `container` templates of `bp new-provider`).
 */
export const supports: StorageSupports = {
  vmMechanisms: [],
  incremental: false,
  containerFormats: [],
  notes: true,
  protected: true,
  prune: true,
  delete: true,
  verify: false,
};
