import { randomBytes } from 'node:crypto';
import { mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { GuestType } from '@bp/api';
import type { ProcessIdentity } from '@bp/nbd/qemu';

/**
 * What a session (an export, a set of mounts, a file listing) holds, written to the state
 * directory before each resource is taken, so the next command can release what a killed
 * process left behind.
 */
export interface SessionRecord {
  id: string;
  kind: 'serve' | 'files' | 'mount';
  /** The process that opened the session. */
  owner: ProcessIdentity;
  /** A `bp mount` session outlives its process on purpose; only `unmount` releases it. */
  detached: boolean;
  /** `bp mount`'s target directory. */
  target?: string;
  storeId: string;
  volname: string;
  /** The restore entry points that were initialised (and need their cleanup). */
  provider?: { vmtype: GuestType; devices: string[] };
  /** Provider views (raw files) loop devices may be attached to. */
  viewFiles: string[];
  /** Every mount below these directories belongs to the session. */
  mountRoots: string[];
  /** Helper processes (qemu-storage-daemon) and their private directories. */
  processes: Array<ProcessIdentity & { dir?: string }>;
  /** Directories the session created inside a user's directory (removed when empty, deepest first). */
  createdDirs: string[];
  /** The session's private work directory (mount points of `files`), removed recursively once nothing is mounted there. */
  workDir?: string;
}

/** The default state directory: `$BP_RUN_DIR`, else `<tmpdir>/bp-open-backup`. */
export function defaultStateDir(): string {
  return process.env.BP_RUN_DIR && process.env.BP_RUN_DIR.length > 0 ? process.env.BP_RUN_DIR : join(tmpdir(), 'bp-open-backup');
}

/** A new session id (also the record's file name). */
export function newSessionId(): string {
  return `${Date.now().toString(36)}-${randomBytes(4).toString('hex')}`;
}

function recordPath(stateDir: string, id: string): string {
  return join(stateDir, `${id}.json`);
}

/** Writes (or rewrites) a record atomically. */
export async function saveRecord(stateDir: string, record: SessionRecord): Promise<void> {
  await mkdir(stateDir, { recursive: true, mode: 0o700 });
  const file = recordPath(stateDir, record.id);
  const temporary = `${file}.${process.pid}.tmp`;
  await writeFile(temporary, `${JSON.stringify(record, null, 2)}\n`, { mode: 0o600 });
  await rename(temporary, file);
}

/** Removes a record once its session is released. */
export async function removeRecord(stateDir: string, id: string): Promise<void> {
  await rm(recordPath(stateDir, id), { force: true });
}

/** Every readable record of the state directory (unreadable ones are skipped). */
export async function listRecords(stateDir: string): Promise<SessionRecord[]> {
  const names = await readdir(stateDir).catch(() => [] as string[]);
  const records: SessionRecord[] = [];
  for (const name of names.filter((entry) => entry.endsWith('.json')).sort()) {
    try {
      records.push(JSON.parse(await readFile(join(stateDir, name), 'utf8')) as SessionRecord);
    } catch {
      // Half-written by a process killed between write and rename: the .tmp file is not listed.
    }
  }
  return records;
}
