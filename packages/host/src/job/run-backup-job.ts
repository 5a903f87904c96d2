import { mkdir, mkdtemp } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { assertSpecificationVersion, BpError, vmidSchema, type BackupProvider, type LogFunction, type PruneOptions } from '@bp/api';
import { backupGuest, type GuestJob } from './backup-guest.js';
import { errorMessage, providerError } from './provider-results.js';
import { resolvePruneOptions } from './retention.js';
import type { GuestResult, GuestSpec, JobEvent, JobResult, RunBackupJobOptions } from './types.js';

function checkGuests(guests: readonly GuestSpec[]): GuestSpec[] {
  const seen = new Set<number>();
  for (const guest of guests) {
    if (!vmidSchema.safeParse(guest.vmid).success) {
      throw new BpError('BP_INVALID_ARGUMENT', `guest ID ${JSON.stringify(guest.vmid)} is invalid; use an integer from 100 to 999999999`);
    }
    if (seen.has(guest.vmid)) throw new BpError('BP_INVALID_ARGUMENT', `guest ${guest.vmid} is listed twice; list each guest once`);
    seen.add(guest.vmid);
  }
  // vzdump backs up guests sorted by VMID.
  return [...guests].sort((a, b) => a.vmid - b.vmid);
}

function skipped(guest: GuestSpec): GuestResult {
  const type: unknown = guest.type;
  return { vmid: guest.vmid, type: type === 'qemu' || type === 'lxc' ? type : undefined, status: 'skipped', durationMs: 0 };
}

/**
 * Runs a backup job as vzdump does with a backup provider (spec 1.1): one provider per job,
 * `jobInit`, each guest sorted by VMID (`backupInit` ... `backupCleanup`, `backupHandleLogFile`),
 * `jobCleanup` (again on the error path if it threw). A failed guest does not stop the job; a
 * failing `backupHandleLogFile` or an abort skips the remaining guests.
 *
 * Throws BP_INVALID_ARGUMENT / BP_INVALID_CONFIG for invalid guests or options before anything
 * runs; every runtime failure is reported in the returned {@link JobResult}.
 */
export async function runBackupJob(options: RunBackupJobOptions): Promise<JobResult> {
  const { storage, signal } = options;
  const jobOptions = options.options ?? {};
  const guests = checkGuests(options.guests);
  const prune: PruneOptions | undefined = resolvePruneOptions(jobOptions.prune, storage);
  const jobLog: LogFunction = options.log ?? (() => {});
  const emit = (event: JobEvent): void => options.onEvent?.(event);
  const logDir = jobOptions.logDir ?? (await mkdtemp(join(tmpdir(), 'bp-backup-logs-')));
  await mkdir(logDir, { recursive: true });
  const results: GuestResult[] = [];
  let currentGuest: number | undefined;

  const finish = (error?: BpError): JobResult => {
    for (const guest of guests.slice(results.length)) results.push(skipped(guest));
    const ok = error === undefined && results.every((r) => r.status === 'ok');
    emit({ type: 'job-end', ok });
    return { ok, guests: results, logDir, ...(error ? { error } : {}) };
  };

  // Provider log lines reach the job's task output only (spec H13), and count as progress.
  const providerLog: LogFunction = (level, message) => {
    jobLog(level, message);
    if (currentGuest !== undefined) emit({ type: 'progress', vmid: currentGuest, level, message });
  };

  let provider: BackupProvider;
  try {
    await storage.activateStorage();
    provider = storage.newBackupProvider(providerLog);
    assertSpecificationVersion(provider, 'backup provider');
  } catch (error) {
    const failure = providerError(error, `could not get storage information for '${storage.storeId}'`);
    jobLog('err', failure.message);
    return finish(failure);
  }

  jobLog('info', `starting new backup job: ${guests.map((g) => g.vmid).join(' ')} --storage ${storage.storeId}`);
  const job: GuestJob = {
    storage,
    provider,
    options: jobOptions,
    prune,
    logDir,
    tmpDir: jobOptions.tmpDir ?? tmpdir(),
    node: jobOptions.node ?? hostname().split('.')[0] ?? 'localhost',
    cluster: jobOptions.cluster ?? 'standalone node',
    jobLog,
    providerLog,
    emit,
    signal,
    vmAccess: options.vmAccess,
  };

  let jobError: BpError | undefined;
  try {
    await provider.jobInit(Math.floor(Date.now() / 1000));
    for (const guest of guests) {
      if (signal?.aborted) throw new BpError('BP_ABORTED', 'interrupted by signal', { cause: signal.reason });
      currentGuest = guest.vmid;
      const { result, abortJob } = await backupGuest(job, guest);
      currentGuest = undefined;
      results.push(result);
      if (abortJob) throw abortJob;
      if (signal?.aborted) throw new BpError('BP_ABORTED', 'interrupted by signal', { cause: signal.reason });
    }
    await provider.jobCleanup();
  } catch (error) {
    jobError = providerError(error, 'backup job');
    try {
      await provider.jobCleanup();
    } catch (cleanupError) {
      jobError = new BpError(jobError.code, `${jobError.message}\n${errorMessage(cleanupError)}`, { cause: jobError, details: jobError.details });
    }
  }
  if (jobError) jobLog('err', `Backup job failed - ${jobError.message}`);
  else jobLog('info', 'Backup job finished successfully');
  return finish(jobError);
}
