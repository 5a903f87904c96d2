import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { BpError, formatVolname, formatVolumeId, type BackupProvider, type BackupStorage, type GuestType, type LogFunction, type PruneOptions } from '@bp/api';
import { openVm } from '../vm/index.js';
import { archiveContainer } from './archive-container.js';
import { archiveVm } from './archive-vm.js';
import { assembleContainerGuestConfig, assembleVmGuestConfig, guestNameFromConfig } from './guest-config.js';
import { forwardProgress } from './forward-progress.js';
import type { GuestContext } from './guest-context.js';
import { renderNotesTemplate } from './notes-template.js';
import { archiveSizeOf, checkBackupInitResult, errorMessage, providerError } from './provider-results.js';
import { checkProtectedLimit, pruneGuestBackups } from './retention.js';
import { formatDuration, localTimestamp, TaskLog } from './task-log.js';
import type { BackupJobOptions, GuestResult, GuestSpec, JobEvent } from './types.js';
import type { VmAccessOpener } from './vm-access.js';

/** What the job hands to each guest's backup. */
export interface GuestJob {
  storage: BackupStorage;
  provider: BackupProvider;
  options: BackupJobOptions;
  prune: PruneOptions | undefined;
  logDir: string;
  tmpDir: string;
  node: string;
  cluster: string;
  jobLog: LogFunction;
  providerLog: LogFunction;
  emit: (event: JobEvent) => void;
  signal: AbortSignal | undefined;
  vmAccess: VmAccessOpener | undefined;
}

function guestTypeOf(spec: GuestSpec): GuestType | undefined {
  const type: unknown = spec.type;
  return type === 'qemu' || type === 'lxc' ? type : undefined;
}

function guestName(spec: GuestSpec): string {
  if (spec.name !== undefined) return spec.name;
  const fromConfig = guestNameFromConfig(spec.config, spec.type === 'qemu' ? 'name' : 'hostname');
  return fromConfig ?? `${spec.type === 'qemu' ? 'VM' : 'CT'} ${spec.vmid}`;
}

/**
 * vzdump's `exec_backup_task` for one guest with a provider (spec 1.1 steps 1–14, 1.7). Returns
 * the guest's result; a failed guest does not throw. `abortJob` is set when
 * `backupHandleLogFile` failed, which aborts the remaining guests as in PVE.
 */
export async function backupGuest(job: GuestJob, spec: GuestSpec): Promise<{ result: GuestResult; abortJob?: BpError }> {
  const { provider, storage, options } = job;
  const started = Date.now();
  const vmid = spec.vmid;
  const vmtype = guestTypeOf(spec);
  const log = new TaskLog(job.jobLog);
  const cleanups: Array<() => Promise<void>> = [];
  const result: GuestResult = { vmid, type: vmtype, status: 'ok', durationMs: 0 };
  const guestTmp = join(job.tmpDir, `vzdumptmp${process.pid}_${vmid}`);
  let tmpCreated = false;
  job.emit({ type: 'guest-start', vmid, guestType: vmtype });
  const progress = forwardProgress((report) => job.emit({ type: 'bytes', vmid, ...report }));
  const ctx: GuestContext = {
    storage,
    provider,
    options,
    log,
    providerLog: job.providerLog,
    tmpDir: guestTmp,
    // Each step boundary is also where an abort takes effect (PVE: "interrupted by signal").
    phase: (phase) => {
      job.emit({ type: 'phase', vmid, phase });
      job.signal?.throwIfAborted();
    },
    signal: job.signal,
    onProgress: progress,
    vmAccess: job.vmAccess ?? openVm,
    onCleanup: (step) => cleanups.push(step),
  };

  let failure: unknown;
  try {
    // 1. per-guest backup time
    const backupTime = Math.floor(Date.now() / 1000);
    if (vmtype === undefined) {
      throw new BpError('BP_INVALID_ARGUMENT', `guest ${vmid} has unknown type ${JSON.stringify(spec.type)}; use 'qemu' or 'lxc'`);
    }
    // 2. retention limit check
    if (options.protected) await checkProtectedLimit(storage, vmid, vmtype);
    // 3. tmpdir and task log file
    await rm(guestTmp, { recursive: true, force: true });
    await mkdir(guestTmp, { recursive: true, mode: 0o700 });
    tmpCreated = true;
    const logFile = join(job.logDir, `${vmtype}-${vmid}.log`);
    log.openFile(logFile);
    result.logFile = logFile;
    log.info(`Starting Backup of VM ${vmid} (${vmtype})`);
    log.info(`Backup started at ${localTimestamp(new Date(backupTime * 1000))}`);
    job.signal?.throwIfAborted();

    // 5. backup_init
    ctx.phase('init');
    const archiveName = checkBackupInitResult(await provider.backupInit(vmid, vmtype, backupTime));
    const volname = formatVolname(archiveName);
    const volid = formatVolumeId(storage.storeId, archiveName);
    result.volid = volid;

    // 6. assemble the guest config
    const guestConfig = spec.type === 'qemu' ? assembleVmGuestConfig(spec.config, spec.source) : assembleContainerGuestConfig(spec.config);

    // 7. archive
    log.info(`creating ${await provider.providerName()} archive '${volid}'`);
    try {
      if (spec.type === 'qemu') await archiveVm(ctx, spec, guestConfig);
      else await archiveContainer(ctx, spec, guestConfig);
    } finally {
      progress.flush();
    }

    // 8. notes: failure only warns
    if (options.notesTemplate) {
      ctx.phase('notes');
      try {
        const notes = renderNotesTemplate(options.notesTemplate, { guestname: guestName(spec), vmid, node: job.node, cluster: job.cluster });
        await storage.updateVolumeAttribute(volname, 'notes', notes);
      } catch (error) {
        log.warn(`unable to add notes - ${errorMessage(error)}`);
      }
    }
    // 9. protected: fatal
    if (options.protected) {
      ctx.phase('protect');
      try {
        await storage.updateVolumeAttribute(volname, 'protected', true);
      } catch (error) {
        throw BpError.isInstance(error) ? error : new BpError('BP_BACKUP_FAILED', `unable to set protected flag - ${errorMessage(error)}`, { cause: error });
      }
    }
    // 10. prune, before backup_cleanup(1): fatal
    if (job.prune) {
      ctx.phase('prune');
      await pruneGuestBackups(storage, job.prune, vmid, vmtype, log);
    }
    // 11. backup_cleanup(success)
    ctx.phase('cleanup');
    const size = archiveSizeOf(await provider.backupCleanup(vmid, vmtype, true, {}));
    if (size !== undefined) result.size = size;
  } catch (error) {
    failure = error;
  }

  // 12. guest plugin cleanup (snapshot-access teardown etc.), then the temporary directory
  if (cleanups.length > 0) job.emit({ type: 'phase', vmid, phase: 'teardown' });
  for (const step of cleanups.reverse()) {
    try {
      await step();
    } catch (error) {
      log.warn(`cleanup failed - ${errorMessage(error)}`);
    }
  }
  if (tmpCreated) await rm(guestTmp, { recursive: true, force: true }).catch(() => {});

  // 13. on error: backup_cleanup(0) after the guest cleanup; a throw only warns
  if (failure !== undefined) {
    const error = job.signal?.aborted ? new BpError('BP_ABORTED', 'interrupted by signal', { cause: failure }) : providerError(failure, 'backup');
    const message = BpError.hasCode(error, 'BP_ABORTED') ? error.message : errorMessage(failure);
    result.status = 'error';
    result.error = error;
    log.error(`Backup of VM ${vmid} failed - ${message}`);
    try {
      await provider.backupCleanup(vmid, vmtype, false, { error: message });
    } catch (error) {
      log.warn(`backup cleanup for external provider failed: ${errorMessage(error)}`);
    }
  } else {
    log.info(`Finished Backup of VM ${vmid} (${formatDuration(Date.now() - started)})`);
  }
  result.durationMs = Date.now() - started;

  // 14. hand the log over: on success and failure, not guarded (a throw aborts the job)
  log.closeFile();
  let abortJob: BpError | undefined;
  if (result.logFile !== undefined) {
    job.emit({ type: 'phase', vmid, phase: 'log-file' });
    try {
      await provider.backupHandleLogFile(vmid, result.logFile);
    } catch (error) {
      abortJob = providerError(error, `backupHandleLogFile for guest ${vmid}`);
    }
  }
  job.emit({
    type: 'guest-end',
    vmid,
    status: result.status === 'ok' ? 'ok' : 'error',
    ...(result.size !== undefined ? { size: result.size } : {}),
    durationMs: result.durationMs,
    ...(result.error ? { error: result.error } : {}),
  });
  return abortJob ? { result, abortJob } : { result };
}
