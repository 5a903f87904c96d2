import { chown, copyFile, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  BpError,
  CURRENT_SPECIFICATION_VERSION,
  devicesFromGuestConfig,
  incrementalPolicyOf,
  nextIncrementalRecord,
  type BackupCleanupInfo,
  type BackupCleanupResult,
  type BackupInitResult,
  type BackupMechanism,
  type BackupProvider,
  type BackupVmInfo,
  type ContainerBackupInfo,
  type FullReason,
  type IncrementalRecord,
  type GuestType,
  type IncrementalAnswers,
  type LogFunction,
  type RestoreContainerInitResult,
  type RestoreMechanismResult,
  type RestoreVmInitResult,
  type RestoreVmVolumeExportResult,
  type RestoreVmVolumeInitResult,
  type VmDeviceSizes,
  type VmVolumes,
} from '@bp/api';
import { openVmVolumeSource } from '@bp/nbd';
import { backupDirName, DEVICE_NAME, FILES, imageFileName, newArchiveName, parseName } from '../layout/index.js';
import { validateBackingChain } from '../restore/backing-chain.js';
import { closeSquashfsView, closeSquashfsViews, openSquashfsView } from '../restore/container-view.js';
import { startChainView, stopChainView, stopChainViews, viewKey } from '../restore/chain-view.js';
import { listPartialBackups, readBackupState, writeBackupState, type BackupState } from '../state/backup-state.js';
import { clearLogHandoff, readLogHandoff } from '../state/log-handoff.js';
import { readPreviousInfo } from '../state/previous-info.js';
import { writeChainFile, type ChainFile } from '../state/chain-file.js';
import type { DirStorageView } from '../storage/storage-view.js';
import { deviceImages } from '../storage/backup-scan.js';
import { removeAbandonedBackups } from '../storage/abandoned.js';
import { withGuestLock } from '../state/guest-lock.js';
import { exists, fsyncPath } from '../util/durable-fs.js';
import { containerArchiveFile, recordAcls, writeSquashfsArchive, writeTarArchive } from './container-archive.js';
import { discardBackup, publishBackup } from './publish.js';
import { writeImage } from './write-image.js';
import { planDevice } from './incremental-plan.js';
import { mergeIntoSyntheticFull } from './synthetic-full.js';

/** The name shown in "creating <name> archive ...". */
export const PROVIDER_NAME = 'bp directory provider';

/**
 * The directory provider. Short-lived: every entry point may get a fresh instance, and
 * `backupContainer` runs in another process, so everything it needs later is on disk (the partial
 * backup directory and its state file, previous-info). Memory only speeds up lookups.
 */
export class DirBackupProvider implements BackupProvider {
  readonly specificationVersion = CURRENT_SPECIFICATION_VERSION;
  /** vmid -> archive name of this instance's current backup. */
  private readonly sessions = new Map<number, string>();
  private readonly restoreViews = new Map<string, string>();
  private readonly restoreMounts = new Map<string, string>();

  constructor(
    private readonly storage: DirStorageView,
    private readonly log: LogFunction,
  ) {}

  private get layout() {
    return this.storage.layout;
  }

  async providerName(): Promise<string> {
    return PROVIDER_NAME;
  }

  async jobInit(startTime: number): Promise<void> {
    this.log('info', `job init called (start time ${startTime}), storage ${this.storage.storeId} at ${this.storage.config.path}`);
  }

  async jobCleanup(): Promise<void> {
    this.log('info', 'job cleanup called');
  }

  async backupInit(vmid: number, vmtype: GuestType, startTime: number): Promise<BackupInitResult> {
    if (this.storage.config.disable) throw new BpError('BP_STORAGE_UNAVAILABLE', `storage ${this.storage.storeId} is disabled; enable it to back up`);
    const archiveName = newArchiveName(vmid, vmtype, startTime);
    const partial = this.layout.partialDir(archiveName);
    await mkdir(this.layout.guestDir(vmid), { recursive: true, mode: 0o755 });
    if ((await exists(partial)) || (await exists(this.layout.backupDir(archiveName)))) {
      throw new BpError('BP_ALREADY_EXISTS', `a backup ${archiveName} already exists or is running; start the next backup a second later`);
    }
    await mkdir(partial, { mode: 0o700 });
    await writeBackupState(partial, { archiveName, vmid, vmtype, startTime, ownerPid: process.pid, bases: {} });
    this.sessions.set(vmid, archiveName);
    return { archiveName };
  }

  /** The backup in progress for `vmid`: this instance's, else one started by this process. */
  private async findSession(vmid: number, vmtype?: GuestType): Promise<{ archiveName: string; partial: string; state?: BackupState } | undefined> {
    const known = this.sessions.get(vmid);
    if (known !== undefined) {
      const partial = this.layout.partialDir(known);
      return { archiveName: known, partial, state: await readBackupState(partial) };
    }
    const candidates = (await listPartialBackups(this.layout.guestDir(vmid))).filter(({ state }) => vmtype === undefined || state.vmtype === vmtype);
    const mine = candidates.find(({ state }) => state.ownerPid === process.pid) ?? candidates.find(({ state }) => state.ownerPid === process.ppid);
    const chosen = mine ?? (vmtype === 'lxc' ? candidates.find(({ state }) => state.containerUserId !== undefined && !state.containerDone) : undefined);
    if (!chosen) {
      // Published by this process and not yet handed its log: a cleanup(false) may still follow.
      const handoff = await readLogHandoff(this.layout.guestDir(vmid));
      if (!handoff?.published || (vmtype !== undefined && parseName(handoff.archiveName).vmtype !== vmtype)) return undefined;
      this.sessions.set(vmid, handoff.archiveName);
      return { archiveName: handoff.archiveName, partial: this.layout.partialDir(handoff.archiveName) };
    }
    this.sessions.set(vmid, chosen.state.archiveName);
    return { archiveName: chosen.state.archiveName, partial: chosen.dir, state: chosen.state };
  }

  private async requireSession(vmid: number, vmtype: GuestType, step: string): Promise<{ archiveName: string; partial: string; state: BackupState }> {
    const session = await this.findSession(vmid, vmtype);
    if (!session?.state) throw new BpError('BP_BACKUP_FAILED', `${step} for guest ${vmid} without a backup in progress; call backupInit first`);
    return { ...session, state: session.state };
  }

  async backupGetMechanism(vmid: number, vmtype: GuestType): Promise<BackupMechanism> {
    if (vmtype === 'lxc') return 'directory';
    if (vmtype === 'qemu') return this.storage.config['vm-backup-mechanism'];
    throw new BpError('BP_NOT_SUPPORTED', `guest ${vmid} has type ${String(vmtype)}; this provider backs up qemu and lxc guests`);
  }

  async backupVmQueryIncremental(vmid: number, devices: VmDeviceSizes): Promise<IncrementalAnswers> {
    if (this.storage.config['vm-backup-mode'] !== 'incremental') return undefined;
    const session = await this.requireSession(vmid, 'qemu', 'backupVmQueryIncremental');
    const previous = await readPreviousInfo(this.layout.previousInfoPath(vmid));
    const context = {
      guestDir: this.layout.guestDir(vmid),
      storageInstance: await this.storage.storageInstanceId(),
      policy: incrementalPolicyOf(this.storage.config),
      now: session.state.startTime,
    };
    const answers: Record<string, 'use' | 'new'> = {};
    const bases: Record<string, string> = {};
    const decisions: NonNullable<BackupState['decisions']> = {};
    for (const [device, current] of Object.entries(devices)) {
      const plan = await planDevice(context, device, current, previous[device]);
      answers[device] = plan.decision.answer;
      if (plan.base !== undefined) bases[device] = plan.base;
      decisions[device] = { decision: plan.decision, ...(plan.baseRecord ? { baseRecord: plan.baseRecord } : {}) };
      if (plan.decision.answer === 'new') this.log('info', `${device}: full read: ${plan.decision.detail} (${plan.decision.reason})`);
    }
    await writeBackupState(session.partial, { ...session.state, bases, decisions });
    return answers;
  }

  async backupVm(vmid: number, guestConfig: string, volumes: VmVolumes, info: BackupVmInfo): Promise<void> {
    const { archiveName, partial, state } = await this.requireSession(vmid, 'qemu', 'backupVm');
    await writeFile(join(partial, FILES.guestConfig), guestConfig);
    if (info.firewallConfig) await writeFile(join(partial, FILES.firewallConfig), info.firewallConfig);
    const written: Record<string, string> = {};
    const chain: ChainFile = {};
    const storageInstance = await this.storage.storageInstanceId();
    for (const device of Object.keys(volumes).sort()) {
      const volume = volumes[device]!;
      if (!DEVICE_NAME.test(device)) throw new BpError('BP_INVALID_ARGUMENT', `device name ${JSON.stringify(device)} cannot be stored; expected names like drive-scsi0`);
      const plan = this.imagePlan(device, volume, state);
      const imagePath = join(partial, imageFileName(device));
      const differences = plan.differencesOnly ? { compared: 0, differing: 0 } : undefined;
      // Differences to the base are only exact when every byte is compared, holes included.
      const opened = await openVmVolumeSource(volume, { wholeDisk: differences !== undefined, ...(info.signal ? { signal: info.signal } : {}) });
      try {
        this.log('info', `${device}: ${plan.describe}, mechanism ${volume.mechanism}`);
        const stats = await writeImage(opened, {
          imagePath,
          size: volume.size,
          ...(plan.base ? { backingFile: `../${plan.base}` } : {}),
          ...(differences ? { differences } : {}),
          ...(info.bandwidthLimit ? { bandwidthLimit: info.bandwidthLimit } : {}),
          ...(info.signal ? { signal: info.signal } : {}),
          onWarning: (message) => this.log('warn', `${device}: ${message}`),
          progress: { device, report: info.onProgress },
        });
        this.log('info', `${device}: read ${stats.bytesRead} bytes, wrote ${stats.bytesWritten}, ${stats.bytesZeroed + stats.bytesSkipped} zero bytes detected`);
      } finally {
        await opened.close();
      }
      let detail = plan.detail;
      if (differences) {
        detail = `${detail}; ${differences.differing} of ${differences.compared} bytes differed from the previous restore point and were stored`;
        this.log('info', `${device}: ${detail}`);
      }
      const merged = plan.base !== undefined && plan.merge;
      if (merged) {
        await mergeIntoSyntheticFull(imagePath, info.signal);
        detail = 'incremental merged into a synthetic full at the chain length limit';
        this.log('info', `${device}: ${detail}`);
      }
      const record = nextIncrementalRecord({
        base: plan.base === undefined ? undefined : plan.baseRecord,
        storageInstance,
        size: volume.size,
        bitmapGeneration: volume.bitmapMode === 'none' ? undefined : volume.bitmapGeneration,
        fullRead: volume.bitmapMode !== 'reuse',
        merged,
        now: state.startTime,
      });
      chain[device] = {
        record,
        kind: plan.base === undefined || merged ? 'full' : 'incremental',
        ...(plan.fullReason === undefined ? {} : { fullReason: plan.fullReason }),
        ...(detail === undefined ? {} : { detail }),
      };
      written[device] = `${backupDirName(archiveName)}/${imageFileName(device)}`;
    }
    await writeChainFile(partial, chain);
    await fsyncPath(partial);
    await writeBackupState(partial, { ...state, vmDone: true, written });
  }

  /**
   * How one device's image is written, from the query's decision and what QEMU reports: an
   * incremental on the base when the bitmap was reused; when everything is read, an image that
   * stores only the differences to the base (a scheduled full read) or a full image.
   */
  private imagePlan(
    device: string,
    volume: VmVolumes[string],
    state: BackupState,
  ): { base?: string; baseRecord?: IncrementalRecord; differencesOnly?: boolean; merge: boolean; fullReason?: FullReason; detail?: string; describe: string } {
    const stored = state.decisions?.[device];
    const base = state.bases[device];
    if (volume.bitmapMode === 'reuse') {
      if (base === undefined || stored?.decision.answer !== 'use') {
        throw new BpError('BP_CHAIN_BROKEN', `QEMU reused the bitmap of ${device}, but this backup has no base for it; the host must only reuse bitmaps the provider answered 'use' for`);
      }
      return { base, ...(stored.baseRecord ? { baseRecord: stored.baseRecord } : {}), merge: stored.decision.merge, describe: `incremental on ${base}` };
    }
    if (stored === undefined) return { merge: false, describe: 'full image' };
    const { decision } = stored;
    if (decision.answer === 'use') {
      // The provider asked to reuse, but the host had no usable bitmap and read everything.
      const detail = 'the host had no usable dirty bitmap and read the whole disk';
      this.log('info', `${device}: full read: ${detail} (bitmap-missing)`);
      return { merge: false, fullReason: 'bitmap-missing', detail, describe: 'full image' };
    }
    if (decision.fullRead === 'verify-chain' && base !== undefined) {
      return {
        base,
        ...(stored.baseRecord ? { baseRecord: stored.baseRecord } : {}),
        differencesOnly: true,
        merge: decision.merge,
        fullReason: decision.reason,
        detail: decision.detail,
        describe: `full read stored as differences to ${base}`,
      };
    }
    return { merge: false, fullReason: decision.reason, detail: decision.detail, describe: 'full image' };
  }

  async backupContainerPrepare(vmid: number, info: ContainerBackupInfo): Promise<void> {
    const { partial, state } = await this.requireSession(vmid, 'lxc', 'backupContainerPrepare');
    // The unprivileged backupContainer writes as the container's mapped root.
    await chown(partial, info.backupUserId, info.backupGroupId ?? info.backupUserId);
    await writeBackupState(partial, { ...state, containerUserId: info.backupUserId });
  }

  async backupContainer(vmid: number, guestConfig: string, excludePatterns: string[], info: ContainerBackupInfo): Promise<void> {
    const { partial, state } = await this.requireSession(vmid, 'lxc', 'backupContainer');
    await writeFile(join(partial, FILES.guestConfig), guestConfig);
    if (info.firewallConfig) await writeFile(join(partial, FILES.firewallConfig), info.firewallConfig);
    const format = this.storage.config['lxc-backup-mode'];
    const archive = join(partial, containerArchiveFile(format));
    if (format === 'tar') await writeTarArchive(archive, info, excludePatterns, this.log);
    else {
      await writeSquashfsArchive(archive, info, excludePatterns);
      await recordAcls(join(partial, FILES.acl), info, excludePatterns, this.log);
    }
    await fsyncPath(archive);
    await writeBackupState(partial, { ...state, containerDone: true });
  }

  async backupCleanup(vmid: number, vmtype: GuestType | undefined, success: boolean, info: BackupCleanupInfo): Promise<BackupCleanupResult> {
    const session = await this.findSession(vmid, vmtype);
    if (!session) {
      if (success) throw new BpError('BP_BACKUP_FAILED', `backupCleanup(success) for guest ${vmid} without a backup in progress`);
      // A provider process that died mid-backup (e.g. the PVE bridge's Node process) left its partial backup behind.
      const removed = await withGuestLock(this.layout.lockTarget(vmid), () => removeAbandonedBackups(this.layout.guestDir(vmid)));
      for (const name of removed) this.log('info', `removed partial backup ${name} of a process that is gone`);
      this.log('info', `cleanup for guest ${vmid} without a backup in progress${info.error ? ` (${info.error.trim()})` : ''}`);
      return {};
    }
    return success ? publishBackup(this.layout, vmid, session.archiveName, this.log) : this.discard(vmid, session.archiveName, info);
  }

  /** backupCleanup(false): see {@link discardBackup}; the log then goes to the failed-log place. */
  private async discard(vmid: number, archiveName: string, info: BackupCleanupInfo): Promise<BackupCleanupResult> {
    await discardBackup(this.layout, vmid, archiveName, this.log);
    this.failed.add(archiveName);
    if (info.error) this.log('info', `backup ${archiveName} failed: ${info.error.trim()}`);
    return {};
  }

  private readonly failed = new Set<string>();

  async backupHandleLogFile(vmid: number, filename: string): Promise<void> {
    // Never throws: a failure here would make the host skip the remaining guests (spec H3).
    try {
      const guestDir = this.layout.guestDir(vmid);
      const handoff = await readLogHandoff(guestDir);
      const archiveName = this.sessions.get(vmid) ?? handoff?.archiveName ?? (await this.findSession(vmid))?.archiveName;
      let target: string;
      if (archiveName !== undefined && !this.failed.has(archiveName) && (await exists(this.layout.backupDir(archiveName)))) {
        target = join(this.layout.backupDir(archiveName), FILES.log);
      } else if (archiveName !== undefined) target = this.layout.failedLogPath(archiveName);
      else target = this.layout.orphanLogPath(vmid, Math.floor(Date.now() / 1000));
      await mkdir(join(target, '..'), { recursive: true, mode: 0o755 });
      await copyFile(filename, target);
      this.sessions.delete(vmid);
      if (handoff) await clearLogHandoff(guestDir);
    } catch (error) {
      this.log('warn', `could not store the log of guest ${vmid}: ${(error as Error).message}`);
    }
  }

  private async backupDirOf(volname: string): Promise<{ dir: string; vmtype: GuestType; vmid: number }> {
    const dir = await this.storage.existingBackupDir(volname);
    const { name, vmid } = this.storage.parseVolname(volname);
    return { dir, vmtype: parseName(name).vmtype, vmid };
  }

  async restoreGetMechanism(volname: string): Promise<RestoreMechanismResult> {
    const { dir, vmtype } = await this.backupDirOf(volname);
    if (vmtype === 'qemu') return { mechanism: 'qemu-img', vmtype };
    if (await exists(join(dir, FILES.tar))) return { mechanism: 'tar', vmtype };
    if (await exists(join(dir, FILES.squashfs))) return { mechanism: 'directory', vmtype };
    throw new BpError('BP_NOT_FOUND', `backup ${volname} holds no container archive (archive.tar or archive.sqfs)`);
  }

  async archiveGetGuestConfig(volname: string): Promise<string> {
    const { dir } = await this.backupDirOf(volname);
    try {
      return await readFile(join(dir, FILES.guestConfig), 'utf8');
    } catch (error) {
      throw new BpError('BP_NOT_FOUND', `backup ${volname} has no guest configuration`, { cause: error });
    }
  }

  async archiveGetFirewallConfig(volname: string): Promise<string | undefined> {
    const { dir } = await this.backupDirOf(volname);
    return readFile(join(dir, FILES.firewallConfig), 'utf8').catch(() => undefined);
  }

  async restoreVmInit(volname: string): Promise<RestoreVmInitResult> {
    const { dir } = await this.backupDirOf(volname);
    const result: RestoreVmInitResult = {};
    for (const [device, image] of await deviceImages(dir)) {
      const [top] = await validateBackingChain(join(dir, image));
      result[device] = { size: top!.virtualSize };
    }
    // Fail early and clearly when the config maps a drive the backup has no image for (gap G16).
    const missing = devicesFromGuestConfig(await this.archiveGetGuestConfig(volname)).filter((device) => !(device in result));
    if (missing.length > 0) {
      throw new BpError('BP_CHAIN_BROKEN', `backup ${volname} has no image for ${missing.join(', ')} although its configuration maps them; restore from another backup`, {
        details: { missing },
      });
    }
    return result;
  }

  async restoreVmCleanup(volname: string): Promise<void> {
    for (const [key, view] of this.restoreViews) {
      if (!key.startsWith(`${volname}\0`)) continue;
      await stopChainView(view);
      this.restoreViews.delete(key);
    }
  }

  async restoreVmVolumeInit(volname: string, deviceName: string): Promise<RestoreVmVolumeInitResult> {
    return { qemuImgPath: await this.openDeviceView(volname, deviceName, 'file') };
  }

  async restoreVmVolumeExport(volname: string, deviceName: string): Promise<RestoreVmVolumeExportResult> {
    return { nbdUri: await this.openDeviceView(volname, deviceName, 'nbd') };
  }

  /** Validates the device's chain and exposes it read-only; released by restoreVmVolumeCleanup. */
  private async openDeviceView(volname: string, deviceName: string, kind: 'file' | 'nbd'): Promise<string> {
    const { dir } = await this.backupDirOf(volname);
    if (!DEVICE_NAME.test(deviceName)) throw new BpError('BP_NOT_FOUND', `backup ${volname} has no device ${JSON.stringify(deviceName)}`);
    const image = join(dir, imageFileName(deviceName));
    if (!(await exists(image))) throw new BpError('BP_NOT_FOUND', `backup ${volname} has no device ${deviceName}`);
    const layers = await validateBackingChain(image);
    const key = `${volname}\0${deviceName}`;
    const previous = this.restoreViews.get(key);
    if (previous) await stopChainView(previous); // initialised twice: release the first view
    const view = await startChainView(layers, viewKey(this.storage.config.path, volname, deviceName), kind);
    this.restoreViews.set(key, view.dir);
    return view.source;
  }

  async restoreVmVolumeCleanup(volname: string, deviceName: string): Promise<void> {
    const key = `${volname}\0${deviceName}`;
    const view = this.restoreViews.get(key);
    this.restoreViews.delete(key);
    if (view) await stopChainView(view);
    else await stopChainViews(viewKey(this.storage.config.path, volname, deviceName));
  }

  async restoreContainerInit(volname: string): Promise<RestoreContainerInitResult> {
    const { dir } = await this.backupDirOf(volname);
    const { mechanism } = await this.restoreGetMechanism(volname);
    if (mechanism === 'tar') return { tarPath: join(dir, FILES.tar) };
    const aclDump = (await exists(join(dir, FILES.acl))) ? join(dir, FILES.acl) : undefined;
    const mountPoint = await openSquashfsView(join(dir, FILES.squashfs), aclDump, viewKey(this.storage.config.path, volname), this.log);
    this.restoreMounts.set(volname, mountPoint);
    return { archiveDirectory: mountPoint };
  }

  async restoreContainerCleanup(volname: string): Promise<void> {
    const mountPoint = this.restoreMounts.get(volname);
    this.restoreMounts.delete(volname);
    if (mountPoint) await closeSquashfsView(mountPoint);
    else await closeSquashfsViews(viewKey(this.storage.config.path, volname));
  }
}
