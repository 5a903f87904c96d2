import type { FullReason } from '@bp/api';
import type { ScenarioOutcome } from '../conformance/run-kit.js';
/**
 * The `--json` documents of every command. Each command prints exactly one of these on stdout;
 * a failure prints {@link ErrorJson} instead. Times are ISO 8601 UTC, sizes bytes.
 */

/** One backup in `bp list`. */
export interface BackupJson {
  volid: string;
  vmid: number;
  /** `qemu` (VM) or `lxc` (container). */
  type: 'qemu' | 'lxc';
  time: string;
  /** Backup time in epoch seconds. */
  ctime: number;
  size: number;
  format: string;
  /** Volume ID of the backup this incremental builds on. */
  parent: string | null;
  protected: boolean;
  notes: string | null;
}

/** `bp list [vmid]`. */
export interface ListJson {
  storage: string;
  backups: BackupJson[];
}

/** `bp show <volid>`. */
export interface ShowJson extends BackupJson {
  storage: string;
  /** Restore mechanism the provider reports (`qemu-img`, `tar`, `directory`). */
  mechanism: string;
  /** The backups this one needs, oldest first, ending with this one. */
  chain: string[];
  /** The guest configuration as stored. */
  config: string;
  /**
   * Stored disks (VMs): device name, virtual size and, where the storage records it, the image's
   * place in its incremental chain and why it was read in full.
   */
  disks: Array<{ device: string; size: number; kind: 'full' | 'incremental' | null; chainLength: number | null; fullReason: FullReason | null; detail: string | null }>;
}

/** One disk of a VM backup, as the task log reported it. */
export interface BackupDiskJson {
  /** Backup device name, e.g. `drive-scsi0`. */
  device: string;
  /** Bytes read from the snapshot access (only dirty extents for incrementals). */
  bytesCopied: number;
  /** The dirty-bitmap status ("created new", "OK (4.0 MiB of 256 MiB dirty)"), if any. */
  bitmapStatus: string | null;
  /** `full` or `incremental` as stored (null when the storage does not record it). */
  kind: 'full' | 'incremental' | null;
  /** Why the disk was read in full although the storage backs up incrementally (`bitmap-not-ours`, `size-changed`, ...). */
  fullReason: FullReason | null;
  /** The reason or the outcome in words. */
  detail: string | null;
}

/**
 * With `--json`, `bp backup vm` and `bp backup ct` write these on stderr while they run, one JSON
 * line each (stdout still gets exactly one document): bytes the provider has processed so far,
 * per VM device (`device` absent for a container), and the sum over all devices.
 */
export interface ProgressEventJson {
  type: 'progress';
  vmid: number;
  device: string | null;
  bytesDone: number;
  bytesTotal: number | null;
  /** Sum of `bytesDone` over the guest's devices so far. */
  guestBytesDone: number;
}

/** `bp backup vm` and `bp backup ct`. */
export interface BackupResultJson {
  storage: string;
  volid: string;
  vmid: number;
  type: 'qemu' | 'lxc';
  /** `full` or `incremental` (VMs); `tar` or `squashfs` (containers). */
  mode: string;
  /** Bytes read from the source and stored. */
  bytesCopied: number;
  /** Size of the stored backup as the provider reports it. */
  archiveSize: number | null;
  durationMs: number;
  /** Bytes per second over the whole run. */
  throughput: number;
  disks: BackupDiskJson[];
  protected: boolean;
  notes: string | null;
  /** Backups removed by `--prune` afterwards. */
  pruned: string[];
}

/** One restored file (VM disk) in `bp restore`. */
export interface RestoredDiskJson {
  device: string;
  path: string;
  format: 'qcow2' | 'raw';
  size: number;
}

/** `bp restore <volid> --to <dir>`. */
export interface RestoreJson {
  volid: string;
  type: 'qemu' | 'lxc';
  target: string;
  /** VM: one image per device. */
  disks: RestoredDiskJson[];
  /** Container: the restored root tree. */
  root: string | null;
  /** Guest config written next to the data. */
  configPath: string | null;
  bytesWritten: number;
  durationMs: number;
}

/** One row of `bp prune`. */
export interface PruneEntryJson {
  volid: string;
  vmid: number;
  type: string;
  time: string;
  ctime: number;
  mark: 'keep' | 'remove' | 'protected' | 'renamed';
  note: string | null;
}

/** `bp prune`. */
export interface PruneJson {
  storage: string;
  dryRun: boolean;
  /** The retention applied, PVE string form. */
  keep: string;
  entries: PruneEntryJson[];
  /** Backups removed (dry run: that would be removed). */
  removed: string[];
}

/** `bp delete <volid>`. */
export interface DeleteJson {
  volid: string;
  deleted: true;
}

/** `bp verify [volid]`. */
export interface VerifyJson {
  storage: string;
  ok: boolean;
  results: Array<{ volid: string; ok: boolean; problems: string[] }>;
}

/** `bp notes <volid> [text]`. */
export interface NotesJson {
  volid: string;
  notes: string;
}

/** `bp protect|unprotect <volid>`. */
export interface ProtectJson {
  volid: string;
  protected: boolean;
}

/** One storage in `bp storage list`. */
export interface StorageJson {
  id: string;
  type: string;
  /** `embedded` (built in, under the data directory) or `file` (storages.json). */
  source: 'embedded' | 'file';
  default: boolean;
  config: Record<string, unknown>;
}

/** `bp storage list`. */
export interface StorageListJson {
  configFile: string;
  storages: StorageJson[];
}

/** `bp storage add|remove`. */
export interface StorageChangeJson {
  configFile: string;
  storage: StorageJson;
  action: 'added' | 'removed';
}

/** One row of the `bp demo` summary. */
export interface DemoStepJson {
  backup: string;
  volid: string;
  kind: string;
  bytesCopied: number;
  durationMs: number;
  throughput: number;
  verified: boolean;
  /** What differed, when `verified` is false. */
  problem: string | null;
}

/** `bp demo`. */
export interface DemoJson {
  storage: string;
  storagePath: string;
  workDir: string;
  ok: boolean;
  /** 0 when the container was restored with identical owners; 100000 when owners came back shifted (privileged backup). */
  containerIdShift: number;
  steps: DemoStepJson[];
}

export type { ErrorJson } from '../errors/report-error.js';

/** One scenario (one variant of it) of `bp conformance`. */
export type ConformanceScenarioJson = ScenarioOutcome;

/** `bp conformance --perl-module <name>`. */
export interface ConformanceJson {
  module: string;
  include: string[];
  /** The plugin's storage type. */
  type: string;
  /** What the kit read from the Perl module (StorageSupports of @bp/api). */
  supports: Record<string, unknown>;
  passed: number;
  failed: number;
  skipped: number;
  scenarios: ConformanceScenarioJson[];
}
