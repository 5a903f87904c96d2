import type { StorageSupports } from '@bp/api';

/** Container backups as tar archives; no VMs. */
export const supports: StorageSupports = {
  vmMechanisms: [],
  incremental: false,
  containerFormats: ['tar'],
  notes: true,
  protected: true,
  prune: true,
  delete: true,
  verify: false,
};
