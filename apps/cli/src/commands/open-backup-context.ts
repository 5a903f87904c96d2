import { join } from 'node:path';
import type { StorageOpener } from '@bp/host';
import type { CommandContext } from '../args/command-spec.js';
import { openStorage } from '../config/storage-registry.js';
import { providerLog } from './provider-log.js';

/**
 * What `bp serve`, `bp files`, `bp mount`, `bp umount` and `bp restore --path` pass to @bp/host:
 * the state directory of open sessions (`<data dir>/run`), so a session of a killed `bp` is
 * released by the next command, and the storage registry to release it with.
 */
export function openBackupContext(context: CommandContext): { stateDir: string; openStorage: StorageOpener; log: ReturnType<typeof providerLog>; signal: AbortSignal } {
  return {
    stateDir: join(context.paths.dataDir, 'run'),
    openStorage: (storeId) => openStorage(context.paths, storeId),
    log: providerLog(context),
    signal: context.signal,
  };
}
