import type { BackupStorage, LogFunction } from '@bp/api';
import { resolveBackupVolume } from '../restore/restore-source.js';
import { defaultStateDir, type SessionRecord } from './session-record.js';
import { Session } from './session.js';
import { cleanupStaleSessions, type StorageOpener } from './teardown.js';

/** Options every way of opening a backup shares. */
export interface OpenBackupCommonOptions {
  storage: BackupStorage;
  /** `<storeid>:backup/<archive-name>` of any generation (full or incremental). */
  volid: string;
  /** Where sessions are recorded so a killed process's exports and mounts are released later; default {@link defaultStateDir}. */
  stateDir?: string;
  /**
   * Opens other storages, to release stale sessions of killed processes on them; default:
   * only `storage` itself.
   */
  openStorage?: StorageOpener;
  log?: LogFunction;
  signal?: AbortSignal;
}

/** Releases stale sessions, then records a new one; `work` runs with it, and on failure everything is released. */
export async function withNewSession<T>(options: OpenBackupCommonOptions, kind: SessionRecord['kind'], work: (session: Session, volname: string) => Promise<T>): Promise<T> {
  const log: LogFunction = options.log ?? (() => {});
  const stateDir = options.stateDir ?? defaultStateDir();
  const { volname } = resolveBackupVolume(options.storage, options.volid);
  const opener: StorageOpener = options.openStorage ?? (async (storeId) => (storeId === options.storage.storeId ? options.storage : undefined));
  await cleanupStaleSessions(stateDir, opener, log);
  const session = await Session.create(stateDir, kind, options.storage, volname, log);
  try {
    options.signal?.throwIfAborted();
    return await work(session, volname);
  } catch (error) {
    await session.release().catch((releaseError: unknown) => log('warn', (releaseError as Error).message));
    throw error;
  }
}
