import { isAbsolute } from 'node:path';
import { z } from 'zod';
import { vmBackupMechanismSchema, type VmBackupMechanism } from '../provider/mechanism.js';
import { upgradeV3StorageConfig } from './v3-config-names.js';
import type { IncrementalPolicy } from '../rules/incremental-trust.js';

/** Container archive formats a storage may write (`lxc-backup-mode`). */
export const containerFormatSchema = z.enum(['tar', 'squashfs']);
/** A container archive format. */
export type ContainerFormat = z.infer<typeof containerFormatSchema>;

/** `vm-backup-mode`: every backup full, or incremental on top of the previous one. */
export const vmBackupModeSchema = z.enum(['full', 'incremental']);
/** A VM backup mode. */
export type VmBackupMode = z.infer<typeof vmBackupModeSchema>;

/** `chain-limit-action`: what a chain at `max-chain-length` becomes. */
export const chainLimitActionSchema = z.enum(['full', 'merge']);

/**
 * The storage configuration of a backup-provider storage as in PVE's storage.cfg: the directory
 * example's properties plus the standard options. Keys keep PVE's spelling. This is the plain
 * object (extend it for a plugin's own keys); {@link storageConfigSchema} also reads v3 names.
 */
export const storageConfigObjectSchema = z
  .object({
    /** Absolute directory the storage owns. */
    path: z.string().min(1).refine(isAbsolute, { message: 'must be an absolute path' }),
    /** Container archive format (default tar). */
    'lxc-backup-mode': containerFormatSchema.default('tar'),
    /** VM mechanism (default file-handle, as the example). */
    'vm-backup-mechanism': vmBackupMechanismSchema.default('file-handle'),
    /** Full or incremental VM backups (default full). */
    'vm-backup-mode': vmBackupModeSchema.default('full'),
    /** Longest incremental chain (full + incrementals); 0 = unlimited (default). */
    'max-chain-length': z.number().int().min(0).optional(),
    /** At `max-chain-length`: read the disk in full (`full`, default) or merge the next incremental into a synthetic full (`merge`). */
    'chain-limit-action': chainLimitActionSchema.optional(),
    /** A scheduled full read that checks and repairs the chain every N backups; 0 = never (default). */
    'full-read-every': z.number().int().min(0).optional(),
    /** A scheduled full read when the last one is D days old or older; 0 = never (default). */
    'full-read-days': z.number().int().min(0).optional(),
    /**
     * Granularity in bytes of the dirty bitmaps bp's standalone host creates for this storage
     * (a power of two from 4 KiB to 64 MiB); default 64 KiB. Under PVE the host decides (4 MiB).
     */
    'bitmap-granularity': z
      .number()
      .int()
      .min(4096)
      .max(64 * 1024 * 1024)
      .refine((value) => (value & (value - 1)) === 0, { message: 'must be a power of two' })
      .optional(),
    /** Retention, PVE string form (`keep-daily=7,keep-last=3`) or an object; validated by `parsePruneOptions`. */
    'prune-backups': z.union([z.string(), z.record(z.string(), z.union([z.number(), z.boolean()]))]).optional(),
    /** Maximum protected backups per guest and type; -1 = unlimited. */
    'max-protected-backups': z.number().int().min(-1).optional(),
    /** Disabled storages refuse new backups. */
    disable: z.boolean().optional(),
    /** Nodes the storage is available on (informational here). */
    nodes: z.array(z.string().min(1)).optional(),
  })
  .strict();

/** A storage config as written: the v3 example's `vm-backup-mechanism: block-device` is accepted too. */
type StorageConfigWritten = Omit<z.input<typeof storageConfigObjectSchema>, 'vm-backup-mechanism'> & {
  'vm-backup-mechanism'?: VmBackupMechanism | 'block-device' | undefined;
};
/**
 * The storage configuration of a backup-provider storage (see the object above). v3 names load as
 * the final API's with a one-line notice (`upgradeV3StorageConfig`).
 */
export const storageConfigSchema = z.preprocess((input: StorageConfigWritten) => upgradeV3StorageConfig(input), storageConfigObjectSchema);
/** A parsed storage configuration (defaults applied). */
export type StorageConfig = z.output<typeof storageConfigSchema>;
/** A storage configuration as written by a user (defaults optional). */
export type StorageConfigInput = z.input<typeof storageConfigSchema>;

/** The incremental-chain policy of a storage config (see {@link decideIncremental}). */
export function incrementalPolicyOf(config: StorageConfig): IncrementalPolicy {
  return {
    maxChainLength: config['max-chain-length'] ?? 0,
    chainLimitAction: config['chain-limit-action'] ?? 'full',
    fullReadEvery: config['full-read-every'] ?? 0,
    fullReadDays: config['full-read-days'] ?? 0,
  };
}
