import {
  backupCleanupResultSchema,
  backupInitResultSchema,
  BpError,
  incrementalAnswersSchema,
  validateArchiveName,
  type BackupCleanupResult,
  type IncrementalAnswers,
} from '@bp/api';

/** The message of any thrown value, as PVE's `$@` text (without a trailing newline). */
export function errorMessage(error: unknown): string {
  if (error instanceof Error) return error.message.replace(/\n+$/, '');
  return String(error).replace(/\n+$/, '');
}

/** A provider failure as a BpError: BpErrors pass through, anything else becomes BP_PROVIDER_FAILED. */
export function providerError(error: unknown, step: string): BpError {
  if (BpError.isInstance(error)) return error;
  return new BpError('BP_PROVIDER_FAILED', `${step} failed: ${errorMessage(error)}`, { cause: error });
}

/**
 * vzdump's check of `backup_init`'s result: an object with a valid `archive-name`, else the
 * guest fails with "backup init failed: ...".
 */
export function checkBackupInitResult(result: unknown): string {
  const parsed = backupInitResultSchema.safeParse(result);
  if (!parsed.success) {
    throw new BpError('BP_PROVIDER_FAILED', 'backup init failed: the provider did not return an object with a non-empty archiveName', {
      details: { result: JSON.stringify(result) ?? String(result) },
    });
  }
  try {
    return validateArchiveName(parsed.data.archiveName);
  } catch (error) {
    throw new BpError('BP_PROVIDER_FAILED', `backup init failed: ${errorMessage(error)}`, { cause: error });
  }
}

/** qemu-server's check of `backup_vm_query_incremental`'s answer: `new`, `use` or `none` per device. */
export function checkIncrementalAnswers(result: unknown, devices: readonly string[]): IncrementalAnswers {
  const parsed = incrementalAnswersSchema.safeParse(result === null ? undefined : result);
  if (!parsed.success) {
    throw new BpError(
      'BP_PROVIDER_FAILED',
      `backupVmQueryIncremental returned ${JSON.stringify(result)}; expected device -> 'new' | 'use' | 'none'`,
      { details: { result: JSON.stringify(result) ?? String(result) } },
    );
  }
  if (parsed.data === undefined) return undefined;
  // qemu-server only looks up the devices it has; other keys are ignored.
  const answers: Record<string, 'new' | 'use' | 'none'> = {};
  for (const device of devices) {
    const answer = parsed.data[device];
    if (answer !== undefined) answers[device] = answer;
  }
  return answers;
}

/** `backup_cleanup`'s `stats.archiveSize`, or undefined when the provider returned none (or nonsense). */
export function archiveSizeOf(result: unknown): number | undefined {
  const parsed = backupCleanupResultSchema.safeParse(result ?? {});
  return parsed.success ? parsed.data.stats?.archiveSize : undefined;
}

export type { BackupCleanupResult };
