import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  archiveNameProblem,
  STANDARD_EXCLUDES,
  formatVolname,
  formatVolumeId,
  type BackupProvider,
  type BackupStorage,
  type ContainerBackupInfo,
  type GuestType,
} from '@bp/api';
import { assembleVmGuestConfig, openVm, type SnapshotAccess } from '@bp/host';
import { conformanceError } from '../kit/verify.js';
import { ProviderLog } from './provider-log.js';
import type { VmTestDisk } from './vm-job.js';

/** A container to back up without the host: already mounted at `directory`, privileged call. */
export interface DirectContainerGuest {
  vmid: number;
  /** `pct.conf` text. */
  config: string;
  directory: string;
  sources?: string[];
  excludePatterns?: string[];
  firewallConfig?: string;
  /** Backup time handed to `backupInit` (epoch seconds); default now. */
  startTime?: number;
}

/** A VM of offline images to back up without the job runner (the host's snapshot access only). */
export interface DirectVmGuest {
  vmid: number;
  /** `qemu-server.conf` text without map lines. */
  config: string;
  disks: readonly VmTestDisk[];
  firewallConfig?: string;
  /** Backup time handed to `backupInit` (epoch seconds); default now. */
  startTime?: number;
}

/** Points where a scenario can look at the storage or break the sequence. */
export interface DirectJobHooks {
  /** After `backupContainer` returned, before `backupCleanup(true)` (the backup is not complete yet). */
  beforeCleanup?(volid: string, volname: string): Promise<void>;
}

/** The outcome of one guest of a {@link DirectJob}. */
export interface DirectGuestResult {
  ok: boolean;
  volid?: string;
  volname?: string;
  archiveSize?: number;
  error?: unknown;
}

/**
 * Drives a provider the way vzdump does (spec 1.1, 1.3) for privileged containers, without the
 * host: one provider instance for the job, a fresh one for `backupContainer` (as the forked
 * unprivileged call gets), `backupCleanup(false)` after any failure, the task log handed over
 * on success and failure.
 */
export class DirectJob {
  readonly log = new ProviderLog();
  readonly provider: BackupProvider;

  constructor(
    readonly storage: BackupStorage,
    private readonly logDir: string,
  ) {
    this.provider = storage.newBackupProvider(this.log.log);
  }

  /** `jobInit(now)`. */
  async start(startTime = Math.floor(Date.now() / 1000)): Promise<void> {
    try {
      await this.provider.jobInit(startTime);
    } catch (error) {
      throw conformanceError('jobInit failed', error);
    }
  }

  /** `jobCleanup()`. */
  async end(): Promise<void> {
    try {
      await this.provider.jobCleanup();
    } catch (error) {
      throw conformanceError('jobCleanup failed', error);
    }
  }

  /** One container guest, steps 5–14 of spec 1.1 with the container part of 1.3. */
  backupContainer(guest: DirectContainerGuest, hooks: DirectJobHooks = {}): Promise<DirectGuestResult> {
    const { vmid } = guest;
    return this.backupGuest(vmid, 'lxc', guest.startTime, hooks, async () => {
      const mechanism = await this.provider.backupGetMechanism(vmid, 'lxc');
      if (mechanism !== 'directory') throw conformanceError(`backupGetMechanism(${vmid}, 'lxc') returned '${mechanism}'; containers must use 'directory'`);
      const info: ContainerBackupInfo = {
        directory: guest.directory,
        sources: guest.sources ?? ['./'],
        backupUserId: 0,
        firewallConfig: guest.firewallConfig ?? '',
      };
      await this.provider.backupContainerPrepare(vmid, info);
      // The unprivileged call runs forked on a fresh instance: in-memory state does not reach it.
      const child = this.storage.newBackupProvider(this.log.log);
      await child.backupContainer(vmid, guest.config, [...STANDARD_EXCLUDES, ...(guest.excludePatterns ?? [])], info).catch((error: unknown) => {
        throw conformanceError(`backupContainer(${vmid}) on a fresh provider instance failed; it runs forked in PVE and gets no in-memory state from backupInit, so keep that state on disk`, error);
      });
      return async () => {};
    });
  }

  /**
   * One VM guest of offline images (spec 1.2) through the host's snapshot access, with a backup
   * time of the caller's choosing. The access is torn down after `backupCleanup(true)` on
   * success, before `backupCleanup(false)` on failure, as in PVE.
   */
  backupVm(guest: DirectVmGuest, hooks: DirectJobHooks = {}): Promise<DirectGuestResult> {
    const { vmid } = guest;
    const source = { kind: 'images' as const, disks: guest.disks.map((disk, index) => ({ virtdev: `scsi${index}`, image: disk.image, format: disk.format ?? ('qcow2' as const) })) };
    return this.backupGuest(vmid, 'qemu', guest.startTime, hooks, async () => {
      // Short: Unix socket paths below it must stay within 108 bytes.
      const workDir = await mkdtemp(join(tmpdir(), 'bp-cf-'));
      const opened = await openVm({ source, workDir, log: this.log.log }).catch(async (error: unknown) => {
        await rm(workDir, { recursive: true, force: true });
        throw error;
      });
      let access: SnapshotAccess | undefined;
      const finish = async (success: boolean): Promise<void> => {
        try {
          await access?.teardown(success);
        } finally {
          await opened.close();
          await rm(workDir, { recursive: true, force: true });
        }
      };
      try {
        const mechanism = await this.provider.backupGetMechanism(vmid, 'qemu');
        if (mechanism !== 'nbd' && mechanism !== 'file-handle') throw conformanceError(`backupGetMechanism(${vmid}, 'qemu') returned '${mechanism}'; VMs use 'nbd' or 'file-handle'`);
        const answers = await this.provider.backupVmQueryIncremental(vmid, opened.devices);
        access = await opened.setupAccess({ storeId: this.storage.storeId, answers, mechanism });
        await this.provider.backupVm(vmid, assembleVmGuestConfig(guest.config, source), access.volumes, guest.firewallConfig === undefined ? {} : { firewallConfig: guest.firewallConfig });
      } catch (error) {
        await finish(false);
        throw error;
      }
      return finish;
    });
  }

  /** The common skeleton: init, archive, cleanup(true) or cleanup(false), log hand-off. */
  private async backupGuest(
    vmid: number,
    vmtype: GuestType,
    startTime: number | undefined,
    hooks: DirectJobHooks,
    archive: () => Promise<(success: boolean) => Promise<void>>,
  ): Promise<DirectGuestResult> {
    const result: DirectGuestResult = { ok: false };
    const logFile = join(this.logDir, `${vmtype}-${vmid}-${Date.now()}.log`);
    await writeFile(logFile, `INFO: Starting Backup of VM ${vmid} (${vmtype})\n`);
    let finish: ((success: boolean) => Promise<void>) | undefined;
    try {
      const init = await this.provider.backupInit(vmid, vmtype, startTime ?? Math.floor(Date.now() / 1000));
      const problem = archiveNameProblem(init?.archiveName);
      if (problem !== undefined) throw conformanceError(`backupInit(${vmid}, '${vmtype}') returned archive name ${JSON.stringify(init?.archiveName)}, which is invalid: ${problem}`);
      result.volname = formatVolname(init.archiveName);
      result.volid = formatVolumeId(this.storage.storeId, init.archiveName);
      await this.provider.providerName();
      finish = await archive();
      await hooks.beforeCleanup?.(result.volid, result.volname);
      const cleanup = await this.provider.backupCleanup(vmid, vmtype, true, {});
      result.archiveSize = cleanup?.stats?.archiveSize;
      result.ok = true;
    } catch (error) {
      result.error = error;
    }
    await finish?.(result.ok).catch(() => {});
    if (!result.ok) {
      const error = result.error;
      await this.provider.backupCleanup(vmid, vmtype, false, { error: `${error instanceof Error ? error.message : String(error)}\n` }).catch(() => {});
    }
    await writeFile(logFile, `INFO: ${result.ok ? 'Finished' : 'Failed'} Backup of VM ${vmid} (${vmtype})\n`, { flag: 'a' });
    try {
      await this.provider.backupHandleLogFile(vmid, logFile);
    } catch (error) {
      throw conformanceError(`backupHandleLogFile(${vmid}) threw; a throw there aborts the remaining guests of the job (spec H3)`, error);
    }
    return result;
  }
}
