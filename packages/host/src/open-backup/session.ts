import type { BackupProvider, BackupStorage, LogFunction } from '@bp/api';
import { identify } from '@bp/nbd/qemu';
import { newSessionId, saveRecord, type SessionRecord } from './session-record.js';
import { releaseSession } from './teardown.js';

/** A live session: its record is rewritten before each resource is taken. */
export class Session {
  private released = false;
  provider: BackupProvider | undefined;

  private constructor(
    readonly stateDir: string,
    readonly record: SessionRecord,
    private readonly storage: BackupStorage,
    private readonly log: LogFunction,
  ) {}

  /** Creates the record of a new session of this process. */
  static async create(stateDir: string, kind: SessionRecord['kind'], storage: BackupStorage, volname: string, log: LogFunction): Promise<Session> {
    const record: SessionRecord = {
      id: newSessionId(),
      kind,
      owner: await identify(process.pid),
      detached: false,
      storeId: storage.storeId,
      volname,
      viewFiles: [],
      mountRoots: [],
      processes: [],
      createdDirs: [],
    };
    await saveRecord(stateDir, record);
    return new Session(stateDir, record, storage, log);
  }

  /** Changes the record and writes it (call before taking the resource it names). */
  async update(change: (record: SessionRecord) => void): Promise<void> {
    change(this.record);
    await saveRecord(this.stateDir, this.record);
  }

  /** Releases everything (idempotent). */
  async release(): Promise<void> {
    if (this.released) return;
    await releaseSession(this.stateDir, this.record, { storage: this.storage, log: this.log, ...(this.provider ? { provider: this.provider } : {}) });
    this.released = true;
  }
}
