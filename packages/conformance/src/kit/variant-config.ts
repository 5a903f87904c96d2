import type { StorageConfigInput } from '@bp/api';
import type { ProviderVariant } from './types.js';

/**
 * The PVE storage.cfg keys (`vm-backup-mechanism`, `lxc-backup-mode`, `vm-backup-mode`) for a
 * variant, for plugins that use `@bp/api`'s `storageConfigSchema`. Unset fields are left out.
 */
export function storageConfigForVariant(variant: ProviderVariant): Partial<StorageConfigInput> {
  return {
    ...(variant.vmMechanism ? { 'vm-backup-mechanism': variant.vmMechanism } : {}),
    ...(variant.containerFormat ? { 'lxc-backup-mode': variant.containerFormat } : {}),
    ...(variant.vmMode ? { 'vm-backup-mode': variant.vmMode } : {}),
  };
}
