import type { z } from 'zod';
import type { BackupProvider } from '../provider/backup-provider.js';
import type { GuestType, LogFunction } from '../provider/guest.js';
import type { SpecificationVersion } from '../provider/specification-version.js';
import type { StorageSupports } from './supports.js';
import type {
  BackupVolume,
  ParsedVolname,
  PruneResultEntry,
  StorageStatus,
  VolumeAttribute,
  VolumeSizeInfo,
} from './volume.js';

/** Options of {@link BackupStorage.pruneBackups}. */
export interface PruneBackupsOptions {
  /** Only this guest's backups. */
  vmid?: number;
  /** Only this guest type. */
  type?: GuestType;
  /** Report marks without removing anything. */
  dryRun?: boolean;
  /** PVE's `$logfunc`: `info "removing backup '<volid>'"`, errors as `err`. */
  log?: LogFunction;
}

/** The verdict of {@link BackupStorage.verify} for one backup. */
export interface VerifyResult {
  volid: string;
  ok: boolean;
  /** What is corrupt or missing, one line each. */
  problems: string[];
}

/**
 * A configured backup storage (PVE's storage plugin, bound to one storage ID and config): the
 * user-facing side of a provider — listing, sizes, prune, delete, notes, protection.
 */
export interface BackupStorage<Config = unknown> {
  readonly storeId: string;
  readonly config: Config;
  readonly plugin: BackupStoragePlugin<Config>;

  /** PVE `parse_volname`: `backup/<archive-name>` -> owner and name; throws BP_INVALID_VOLUME_ID. */
  parseVolname(volname: string): ParsedVolname;
  /** PVE `path`: where the backup lives, its owner and vtype. */
  path(volname: string): Promise<{ path: string; vmid: number; vtype: 'backup' }>;
  /** PVE `list_volumes`: complete backups only, sorted by volid. Keep it cheap. */
  listVolumes(filter?: { vmid?: number }): Promise<BackupVolume[]>;
  /** PVE `volume_size_info`, consistent with `listVolumes`' size. */
  volumeSizeInfo(volname: string): Promise<VolumeSizeInfo>;
  /** PVE `activate_storage`: throws BP_STORAGE_UNAVAILABLE within `timeoutMs` if the path is missing or hangs. */
  activateStorage(options?: { timeoutMs?: number }): Promise<void>;
  /** PVE `status`. */
  status(): Promise<StorageStatus>;
  /** PVE `prune_backups` with `prune_mark_backup_group` semantics; `keep` in PVE string or object form. */
  pruneBackups(keep: string | Record<string, number | boolean>, options?: PruneBackupsOptions): Promise<PruneResultEntry[]>;
  /** PVE `free_image`: delete a backup; throws BP_PROTECTED for protected ones. */
  freeImage(volname: string): Promise<void>;
  /** PVE `get_volume_attribute`: undefined when unsupported. */
  getVolumeAttribute(volname: string, attribute: VolumeAttribute): Promise<string | boolean | undefined>;
  /** PVE `update_volume_attribute`: throws BP_NOT_SUPPORTED when unsupported, BP_PROTECTED_LIMIT over max-protected-backups. */
  updateVolumeAttribute(volname: string, attribute: VolumeAttribute, value: string | boolean): Promise<void>;
  /** Re-reads backups against their recorded checksums (all, or one volname). Optional. */
  verify?(volname?: string): Promise<VerifyResult[]>;
  /**
   * bp extension, optional: a stable ID created with the storage and kept in it (not the
   * user-chosen `storeId`), different for every storage instance even under the same storage ID.
   * bp's standalone host names dirty bitmaps after it, so two storages never consume each
   * other's bitmap; providers record it with each backup.
   */
  storageInstanceId?(): Promise<string>;
  /** PVE `new_backup_provider($scfg, $storeid, $log_function)`: a fresh provider bound to this storage. */
  newBackupProvider(log: LogFunction): BackupProvider;
}

/**
 * A storage plugin (PVE: the `PVE::Storage::Custom::*` class with the `backup-provider` feature).
 */
export interface BackupStoragePlugin<Config = unknown> {
  readonly specificationVersion: SpecificationVersion;
  /** Storage type as in storage.cfg, e.g. `bp-dir`. */
  readonly type: string;
  /** Validates the storage config (PVE properties/options). */
  readonly configSchema: z.ZodType<Config, unknown>;
  /** What this plugin can do. */
  readonly supports: StorageSupports;
  /**
   * Where a child process re-imports this plugin from: `backupContainer` runs in a child as the
   * container's mapped root, which builds a fresh provider via `open(...).newBackupProvider`.
   */
  readonly moduleRef: { module: string; exportName: string };
  /** Binds the plugin to a storage ID and a config (validate with `configSchema` first). */
  open(storeId: string, config: Config): BackupStorage<Config>;
}
