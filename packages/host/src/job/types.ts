import type { BackupStorage, BpError, GuestType, LogFunction, PruneOptionsInput } from '@bp/api';
import type { openVm, VmSource } from '../vm/index.js';
import type { IdMapEntry } from '../userns/index.js';
import type { VmAccessOpener } from './vm-access.js';

/** A VM to back up. */
export interface VmGuestSpec {
  type: 'qemu';
  vmid: number;
  /** Guest name for `{{guestname}}`; defaults to the config's `name:`. */
  name?: string;
  /** `qemu-server.conf` text without `#qmdump#map` lines; the runner appends them. */
  config: string;
  /** Where the disks come from. */
  source: VmSource;
  /** Raw `<vmid>.fw`; passed to the provider only when present. */
  firewallConfig?: string;
}

/** A container to back up. */
export interface ContainerGuestSpec {
  type: 'lxc';
  vmid: number;
  /** Guest name for `{{guestname}}`; defaults to the config's `hostname:`. */
  name?: string;
  /** `pct.conf` text. */
  config: string;
  /** The mounted root (PVE: `/mnt/vzsnap0`). */
  rootDirectory: string;
  /** Paths relative to `rootDirectory`; default `['./']`. */
  sources?: string[];
  /** Host uid of the container's root; 0 = privileged (called in-process). */
  backupUserId: number;
  /** Host gid of the container's root; defaults to `backupUserId`. */
  backupGroupId?: number;
  /**
   * The container's ID map (lxc.idmap); `backupContainer` runs as root of a user namespace with it.
   * Default: 65536 IDs from `backupUserId` / `backupGroupId` (PVE's default map). Its root must be
   * `backupUserId` / `backupGroupId`.
   */
  idMap?: IdMapEntry[];
  /** vzdump `exclude-path` entries. */
  excludePatterns?: string[];
  /** Add PVE's standard excludes (`/tmp/?*`, `/var/tmp/?*`, `/var/run/?*.pid`); default true. */
  stdexcludes?: boolean;
  /** Raw `pct.fw`; an empty string is passed when absent (as PVE does). */
  firewallConfig?: string;
}

/** A guest of a backup job. */
export type GuestSpec = VmGuestSpec | ContainerGuestSpec;

/** Job options (vzdump's). */
export interface BackupJobOptions {
  /** KiB/s; 0 or absent = unlimited. Passed to the provider as bytes/s. */
  bwlimitKiB?: number;
  /** vzdump `notes-template`: `{{guestname}}`, `{{vmid}}`, `{{node}}`, `{{cluster}}`, `\n`, `\\`. */
  notesTemplate?: string;
  /** Mark each new backup protected (checked against `max-protected-backups`). */
  protected?: boolean;
  /** Retention; default the storage's `prune-backups`; keep-all (the default) = no pruning. */
  prune?: PruneOptionsInput;
  /** Parent of the per-guest temporary directories; default `os.tmpdir()`. */
  tmpDir?: string;
  /** Where the per-guest task logs `<type>-<vmid>.log` go; default a fresh directory under `os.tmpdir()`. */
  logDir?: string;
  /** `{{node}}`; default the short host name. */
  node?: string;
  /** `{{cluster}}`; default `standalone node`. */
  cluster?: string;
  /**
   * Dirty bitmaps: `standalone` (default when the storage has `storageInstanceId`) names them per
   * storage instance with a generation per backup and tells the provider which bitmap it would
   * reuse; `pve` uses PVE's `snapshot-access:<storeid>` and tells nothing, exactly as PVE.
   */
  bitmaps?: 'standalone' | 'pve';
  /**
   * Granularity in bytes of bitmaps created for this job; default 64 KiB in standalone mode
   * (64 KiB writes dirty 64 KiB), 4 MiB (PVE's chunk size) in PVE mode.
   */
  bitmapGranularity?: number;
}

/** A job progress event. */
export type JobEvent =
  | { type: 'guest-start'; vmid: number; guestType: GuestType | undefined }
  | { type: 'phase'; vmid: number; phase: BackupPhase }
  | { type: 'progress'; vmid: number; level: 'info' | 'warn' | 'err'; message: string }
  | { type: 'bytes'; vmid: number; device?: string; bytesDone: number; bytesTotal?: number }
  | { type: 'guest-end'; vmid: number; status: 'ok' | 'error'; size?: number; durationMs: number; error?: BpError }
  | { type: 'job-end'; ok: boolean };

/** Steps of one guest's backup, as reported in `phase` events. */
export type BackupPhase =
  | 'init'
  | 'open'
  | 'query-incremental'
  | 'setup-access'
  | 'backup-vm'
  | 'prepare-container'
  | 'backup-container'
  | 'notes'
  | 'protect'
  | 'prune'
  | 'cleanup'
  | 'teardown'
  | 'log-file';

/** The outcome of one guest. */
export interface GuestResult {
  vmid: number;
  type: GuestType | undefined;
  status: 'ok' | 'error' | 'skipped';
  /** `<storeid>:backup/<archive-name>` once `backupInit` returned a valid name. */
  volid?: string;
  /** `stats.archiveSize` from `backupCleanup(true)`. */
  size?: number;
  durationMs: number;
  /** The per-guest task log, when it was created. */
  logFile?: string;
  error?: BpError;
}

/** The outcome of a job. Runtime failures are reported here, never thrown. */
export interface JobResult {
  /** True when every guest succeeded and the job itself did not fail. */
  ok: boolean;
  guests: GuestResult[];
  /** A job-level failure (provider creation, `jobInit`, `backupHandleLogFile`, `jobCleanup`, abort). */
  error?: BpError;
  /** Directory holding the per-guest task logs. */
  logDir: string;
}

/** Arguments of `runBackupJob`. */
export interface RunBackupJobOptions {
  storage: BackupStorage;
  guests: GuestSpec[];
  options?: BackupJobOptions;
  /** The job's task log (PVE's task output), lines without prefix; providers' lines arrive here too. */
  log?: LogFunction;
  onEvent?: (event: JobEvent) => void;
  signal?: AbortSignal;
  /** Opens a VM for snapshot access (default: {@link openVm} of this package). */
  vmAccess?: VmAccessOpener;
}
