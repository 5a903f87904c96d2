import type { VmBackupMechanism } from '../provider/mechanism.js';
import type { ContainerFormat } from './config.js';

/**
 * What a storage plugin and its provider can do. Consumers (the CLI, the conformance kit) decide
 * from this declaration, never from opt-out flags. Check truthiness, not `=== true`.
 */
export interface StorageSupports {
  /** VM mechanisms the provider can be configured for; empty = no VM backups. */
  vmMechanisms: readonly VmBackupMechanism[];
  /** Incremental VM backups through dirty bitmaps. */
  incremental: boolean;
  /** Container archive formats; empty = no container backups. */
  containerFormats: readonly ContainerFormat[];
  notes: boolean;
  protected: boolean;
  prune: boolean;
  delete: boolean;
  /** Re-reading a backup against recorded checksums. */
  verify: boolean;
}
