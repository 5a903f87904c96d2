import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  archiveNameProblem,
  STANDARD_EXCLUDES,
  formatVolname,
  formatVolumeId,
  type BackupProvider,
  type BackupStorage,
  type ContainerBackupInfo,
} from '@bp/api';
import { conformanceError } from '../kit/verify.js';
import { ProviderLog } from './provider-log.js';

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
  async backupContainer(guest: DirectContainerGuest, hooks: DirectJobHooks = {}): Promise<DirectGuestResult> {
    const { vmid } = guest;
    const result: DirectGuestResult = { ok: false };
    const logFile = join(this.logDir, `lxc-${vmid}-${Date.now()}.log`);
    await writeFile(logFile, `INFO: Starting Backup of VM ${vmid} (lxc)\n`);
    try {
      const init = await this.provider.backupInit(vmid, 'lxc', guest.startTime ?? Math.floor(Date.now() / 1000));
      const problem = archiveNameProblem(init?.archiveName);
      if (problem !== undefined) throw conformanceError(`backupInit(${vmid}, 'lxc') returned archive name ${JSON.stringify(init?.archiveName)}, which is invalid: ${problem}`);
      result.volname = formatVolname(init.archiveName);
      result.volid = formatVolumeId(this.storage.storeId, init.archiveName);
      await this.provider.providerName();
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
      await hooks.beforeCleanup?.(result.volid, result.volname);
      const cleanup = await this.provider.backupCleanup(vmid, 'lxc', true, {});
      result.archiveSize = cleanup?.stats?.archiveSize;
      result.ok = true;
    } catch (error) {
      result.error = error;
      await this.provider.backupCleanup(vmid, 'lxc', false, { error: `${error instanceof Error ? error.message : String(error)}\n` }).catch(() => {});
    }
    await writeFile(logFile, `INFO: ${result.ok ? 'Finished' : 'Failed'} Backup of VM ${vmid} (lxc)\n`, { flag: 'a' });
    try {
      await this.provider.backupHandleLogFile(vmid, logFile);
    } catch (error) {
      throw conformanceError(`backupHandleLogFile(${vmid}) threw; a throw there aborts the remaining guests of the job (spec H3)`, error);
    }
    return result;
  }
}

/** Backs up one container in its own job; throws when the backup fails. */
export async function backupContainerOnce(storage: BackupStorage, logDir: string, guest: DirectContainerGuest, hooks?: DirectJobHooks): Promise<Required<Pick<DirectGuestResult, 'volid' | 'volname'>> & DirectGuestResult> {
  const job = new DirectJob(storage, logDir);
  await job.start();
  const result = await job.backupContainer(guest, hooks);
  await job.end();
  if (!result.ok || !result.volid || !result.volname) {
    throw conformanceError(`container backup of ${guest.vmid} failed\n${job.log.tail()}`, result.error);
  }
  return { ...result, volid: result.volid, volname: result.volname };
}
