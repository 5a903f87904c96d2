import type { ContainerBackupInfo } from './container.js';
import type { GuestType } from './guest.js';
import type { BackupMechanism, IncrementalAnswers } from './mechanism.js';
import type {
  BackupCleanupInfo,
  BackupCleanupResult,
  BackupInitResult,
  RestoreContainerInitResult,
  RestoreInfo,
  RestoreMechanismResult,
  RestoreVmInitResult,
  RestoreVmVolumeExportResult,
  RestoreVmVolumeInitResult,
} from './results.js';
import type { SpecificationVersion } from './specification-version.js';
import type { BackupVmInfo, VmDeviceSizes, VmVolumes } from './vm-volume.js';

/**
 * A backup provider: the object PVE drives during backup jobs and restores
 * (`PVE::BackupProvider::Plugin::Base`). Every method is async.
 *
 * Instances are short-lived. The host creates one per backup job, a fresh one per restore entry
 * point (up to four for one container restore), and runs {@link backupContainer} in a child
 * process as the container's mapped root. State needed across entry points must live on disk.
 *
 * Calls may arrive in surprising orders (spec 1.1, 1.7): `backupCleanup(false)` without
 * `backupInit`; `backupCleanup` twice for one guest (success, then failure); `backupHandleLogFile`
 * without `backupInit`; `vmtype` undefined when the guest type was never determined.
 */
export interface BackupProvider {
  /** The contract version this provider implements; consumers reject unknown versions. */
  readonly specificationVersion: SpecificationVersion;

  /** PVE `provider_name`: a human-readable name for log lines ("creating <name> archive ..."). */
  providerName(): Promise<string>;

  /**
   * PVE `job_init($start_time)`: once per job, before any guest. `startTime` is the job start in
   * epoch seconds. A throw aborts the job; {@link jobCleanup} is still called.
   */
  jobInit(startTime: number): Promise<void>;

  /** PVE `job_cleanup()`: once after all guests; again on the error path if the first call threw. */
  jobCleanup(): Promise<void>;

  /**
   * PVE `backup_init($vmid, $vmtype, $start_time)`: first call for a guest; `startTime` is this
   * guest's backup time (epoch seconds). Returns the archive name, which must match
   * `^([a-zA-Z0-9\-\.\+\=\_]|/|:)+$` and becomes the volume ID `<storeid>:backup/<archiveName>`.
   */
  backupInit(vmid: number, vmtype: GuestType, startTime: number): Promise<BackupInitResult>;

  /**
   * PVE `backup_cleanup($vmid, $vmtype, $success, $info)`: per guest, `success` = this guest's
   * backup succeeded. On success called while the snapshot access still exists; on failure after
   * the host tore it down, with `info.error`. May come without `backupInit`, or twice (success,
   * then failure if the first call threw). Returns `stats.archiveSize` in bytes.
   */
  backupCleanup(
    vmid: number,
    vmtype: GuestType | undefined,
    success: boolean,
    info: BackupCleanupInfo,
  ): Promise<BackupCleanupResult>;

  /** PVE `backup_get_mechanism($vmid, $vmtype)`: `nbd` or `file-handle` for VMs, `directory` for containers. */
  backupGetMechanism(vmid: number, vmtype: GuestType): Promise<BackupMechanism>;

  /**
   * PVE `backup_handle_log_file($vmid, $filename)`: the guest's task log, on success and failure,
   * also when `backupInit` never ran. Not guarded by the host: a throw aborts the remaining guests.
   */
  backupHandleLogFile(vmid: number, filename: string): Promise<void>;

  /**
   * PVE `backup_vm_query_incremental($vmid, $devices)`: per device `use` (keep the bitmap: the
   * provider still has a valid base), `new` (recreate it, full backup) or `none`. Answer `use`
   * only when the provider's own base for that device exists; undefined = no bitmaps. Where the
   * host reports the bitmap's identity (`devices[d].bitmap`, bp's standalone host), answer `use`
   * only for the generation recorded with the base: `decideIncremental` in `@bp/api` applies the rules.
   */
  backupVmQueryIncremental(vmid: number, devices: VmDeviceSizes): Promise<IncrementalAnswers>;

  /**
   * PVE `backup_vm($vmid, $guest_config, $volumes, $info)`: store the guest config verbatim
   * (it carries the `#qmdump#map` lines restore needs) and each volume. Return only when the
   * backup is complete and durable; throw on failure. The host reports QEMU teardown success
   * exactly when this resolves.
   */
  backupVm(vmid: number, guestConfig: string, volumes: VmVolumes, info: BackupVmInfo): Promise<void>;

  /**
   * PVE `backup_container_prepare($vmid, $info)`: as root in the job process, before
   * {@link backupContainer}; stage what the unprivileged call needs (e.g. chown the target).
   */
  backupContainerPrepare(vmid: number, info: ContainerBackupInfo): Promise<void>;

  /**
   * PVE `backup_container($vmid, $guest_config, $exclude_patterns, $info)`: for unprivileged
   * containers runs in a child process as `info.backupUserId`, on a fresh provider instance;
   * in-memory changes are lost. Patterns starting with `/` are anchored at the container root.
   */
  backupContainer(vmid: number, guestConfig: string, excludePatterns: string[], info: ContainerBackupInfo): Promise<void>;

  /** PVE `restore_get_mechanism($volname)`: (`qemu-img`, `qemu`) or (`tar` | `directory`, `lxc`). */
  restoreGetMechanism(volname: string): Promise<RestoreMechanismResult>;

  /** PVE `archive_get_guest_config($volname)`: the guest config verbatim; works on a fresh instance. */
  archiveGetGuestConfig(volname: string): Promise<string>;

  /** PVE `archive_get_firewall_config($volname)`: the firewall config, or undefined if none was stored. */
  archiveGetFirewallConfig(volname: string): Promise<string | undefined>;

  /** PVE `restore_vm_init($volname)`: device name -> virtual size for every stored disk. */
  restoreVmInit(volname: string): Promise<RestoreVmInitResult>;

  /** PVE `restore_vm_cleanup($volname)`: always called at the end of a VM restore; a throw is only warned. */
  restoreVmCleanup(volname: string): Promise<void>;

  /**
   * PVE `restore_vm_volume_init($volname, $device, $info)`: a path the host reads as raw with
   * `qemu-img convert`. Expose it read-only and validate any backing chain first.
   */
  restoreVmVolumeInit(volname: string, deviceName: string, info: RestoreInfo): Promise<RestoreVmVolumeInitResult>;

  /**
   * bp extension, never called by PVE: the device as a read-only NBD export instead of a file.
   * bp's own host calls it, when present, in place of {@link restoreVmVolumeInit} (a raw file view
   * over FUSE is far slower to read than the export behind it); `restoreVmVolumeCleanup` releases
   * it the same way. Validate any backing chain first, as for {@link restoreVmVolumeInit}.
   */
  restoreVmVolumeExport?(volname: string, deviceName: string): Promise<RestoreVmVolumeExportResult>;

  /** PVE `restore_vm_volume_cleanup($volname, $device, $info)`: after the copy of a device whose init succeeded. */
  restoreVmVolumeCleanup(volname: string, deviceName: string, info: RestoreInfo): Promise<void>;

  /**
   * PVE `restore_container_init($volname, $info)`: `tarPath` (mechanism `tar`) or
   * `archiveDirectory` (`directory`). pve-container passes the storage ID as second argument
   * (spec H4); a Perl shim must absorb that, this contract takes the documented shape.
   */
  restoreContainerInit(volname: string, info: RestoreInfo): Promise<RestoreContainerInitResult>;

  /** PVE `restore_container_cleanup($volname, $info)`: always after a successful init (unmount etc.). */
  restoreContainerCleanup(volname: string, info: RestoreInfo): Promise<void>;
}
