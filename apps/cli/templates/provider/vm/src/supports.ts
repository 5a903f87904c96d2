import type { StorageSupports } from '@bp/api';

/** VM backups through file handles, incremental through QEMU's dirty bitmaps; no containers. */
export const supports: StorageSupports = {
  vmMechanisms: ['file-handle'],
  incremental: true,
  containerFormats: [],
  notes: true,
  protected: true,
  prune: true,
  delete: true,
  verify: false,
};
