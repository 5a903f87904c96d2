import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { readJsonFile, writeFileAtomic } from '../util/durable-fs.js';

const HANDOFF_FILE = '.log-handoff.json';

/**
 * Where the task log of a finished attempt goes. Written by backupCleanup, read by
 * backupHandleLogFile, which may run on a fresh provider instance (PVE calls it last).
 */
export interface LogHandoff {
  ownerPid: number;
  archiveName: string;
  published: boolean;
}

export async function writeLogHandoff(guestDir: string, handoff: LogHandoff): Promise<void> {
  await writeFileAtomic(join(guestDir, HANDOFF_FILE), `${JSON.stringify(handoff)}\n`);
}

/** The hand-off of this process for a guest, if any. */
export async function readLogHandoff(guestDir: string): Promise<LogHandoff | undefined> {
  const handoff = await readJsonFile<LogHandoff>(join(guestDir, HANDOFF_FILE));
  return handoff?.ownerPid === process.pid ? handoff : undefined;
}

export async function clearLogHandoff(guestDir: string): Promise<void> {
  await rm(join(guestDir, HANDOFF_FILE), { force: true });
}
