import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { GuestType, IncrementalDecision, IncrementalRecord } from '@bp/api';
import { FILES, PARTIAL_PREFIX } from '../layout/index.js';
import { readJsonFile, writeFileAtomic } from '../util/durable-fs.js';

/**
 * What a backup in progress records in its partial directory (`.bp-state.json`). Provider
 * instances are short-lived and `backupContainer` runs in another process, so every entry point
 * finds the backup again from here.
 */
export interface BackupState {
  archiveName: string;
  vmid: number;
  vmtype: GuestType;
  startTime: number;
  /** Process that called backupInit (the job). */
  ownerPid: number;
  /** Per device: the previous image (`<type>-<time>/<device>.qcow2`) this backup builds on. */
  bases: Record<string, string>;
  /** Per device: what backupVmQueryIncremental decided, and the record of the base it checked. */
  decisions?: Record<string, { decision: IncrementalDecision; baseRecord?: IncrementalRecord }>;
  /** Set once backupVm returned: QEMU now considers this backup's data stored (hazard H1). */
  vmDone?: boolean;
  /** Devices written by backupVm, with the image each becomes the new previous of. */
  written?: Record<string, string>;
  /** Set by backupContainerPrepare: the uid that may write the directory. */
  containerUserId?: number;
  /** Set once backupContainer returned. */
  containerDone?: boolean;
}

/** Reads the state of a partial backup directory. */
export function readBackupState(partialDir: string): Promise<BackupState | undefined> {
  return readJsonFile<BackupState>(join(partialDir, FILES.state));
}

/** Writes the state of a partial backup directory (readable by the container's mapped root). */
export async function writeBackupState(partialDir: string, state: BackupState): Promise<void> {
  await writeFileAtomic(join(partialDir, FILES.state), `${JSON.stringify(state)}\n`, 0o644);
}

/** Partial backups of one guest directory with their state, newest first. */
export async function listPartialBackups(guestDir: string): Promise<{ dir: string; state: BackupState }[]> {
  let names: string[];
  try {
    names = await readdir(guestDir);
  } catch {
    return [];
  }
  const found: { dir: string; state: BackupState }[] = [];
  for (const name of names) {
    if (!name.startsWith(PARTIAL_PREFIX)) continue;
    const dir = join(guestDir, name);
    const state = await readBackupState(dir);
    if (state) found.push({ dir, state });
  }
  return found.sort((a, b) => b.state.startTime - a.state.startTime);
}

/**
 * True when the job that started this backup is gone (crashed or killed): the partial directory
 * will never be published. A process we may not signal (EPERM) still counts as alive.
 */
export function isAbandoned(state: BackupState): boolean {
  try {
    process.kill(state.ownerPid, 0);
    return false;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'ESRCH';
  }
}
