import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { BackupStorage, ContainerFormat, VmBackupMechanism, VmBackupMode } from '@bp/api';
import type { PerlStoragePlugin } from './perl-provider.js';

/** The variant the conformance kit asks for (the kit's `ProviderVariant`). */
export interface PerlProviderVariant {
  vmMechanism?: VmBackupMechanism;
  containerFormat?: ContainerFormat;
  vmMode?: VmBackupMode;
}

/** Options of {@link perlProviderFactory}. */
export interface PerlProviderFactoryOptions {
  /** Storage ID of every storage (default `conformance`). */
  storeId?: string;
  /** Where the fresh storage directories go (default the temp directory). */
  baseDir?: string;
  /**
   * storage.cfg keys for a variant. Default: the directory example's `vm-backup-mechanism`,
   * `lxc-backup-mode`, `vm-backup-mode`, each only when the plugin has that property.
   */
  variantConfig?: (variant: PerlProviderVariant) => Record<string, unknown>;
}

/**
 * A factory for the conformance kit (`testBackupProvider({ factory })`): every call opens a Perl
 * provider storage in a fresh directory (`path`), configured for the variant; `cleanup()` ends
 * the storage's runners and removes the directory.
 */
export function perlProviderFactory(plugin: PerlStoragePlugin, options: PerlProviderFactoryOptions = {}): (variant: PerlProviderVariant) => Promise<{ storage: BackupStorage; cleanup(): Promise<void> }> {
  const properties = plugin.description?.properties ?? {};
  const has = (key: string): boolean => properties[key] !== undefined || plugin.description === undefined;
  const variantConfig =
    options.variantConfig ??
    ((variant: PerlProviderVariant) => ({
      ...(variant.vmMechanism && has('vm-backup-mechanism') ? { 'vm-backup-mechanism': variant.vmMechanism } : {}),
      ...(variant.containerFormat && has('lxc-backup-mode') ? { 'lxc-backup-mode': variant.containerFormat } : {}),
      ...(variant.vmMode && has('vm-backup-mode') ? { 'vm-backup-mode': variant.vmMode } : {}),
    }));
  return async (variant) => {
    const path = await mkdtemp(join(options.baseDir ?? tmpdir(), 'bp-perl-'));
    // The container scenarios write as the container's mapped root.
    await chmod(path, 0o755);
    const config = { ...variantConfig(variant), path };
    const storage = plugin.open(options.storeId ?? 'conformance', config);
    return {
      storage,
      cleanup: async () => {
        await plugin.close(config);
        await rm(path, { recursive: true, force: true });
      },
    };
  };
}
