import { Socket } from 'node:net';
import { assertSpecificationVersion, BpError, type BackupProvider, type BackupStoragePlugin } from '@bp/api';
import type { Handler } from './handler.js';
import { providerHandlers } from './provider-handlers.js';
import { Session } from './session.js';
import { StorageOpener } from './storage-handlers.js';

/** How long running calls get to finish after the job ended before the process exits anyway. */
const DRAIN_GRACE_MS = 10_000;
const PARENT_POLL_MS = 1_000;

/**
 * Job mode: one process per provider object (one vzdump job, one restore entry point), talking
 * to its Perl parent over an inherited socketpair end (`fd`). The provider lives here between
 * calls; `job.open` binds it to the storage. The process ends when the connection closes (the
 * provider object is gone or its process died), when the parent process disappears (a forked
 * holder of the socket must not keep it alive), or on SIGTERM — running calls are aborted first.
 */
export function runJobServer(plugin: BackupStoragePlugin, fd: number): void {
  const socket = new Socket({ fd, readable: true, writable: true });
  let provider: BackupProvider | undefined;
  const opener = new StorageOpener(plugin);
  const forward = providerHandlers(() => {
    if (!provider) throw new BpError('BP_BRIDGE_PROTOCOL', 'job.open must come before provider calls');
    return provider;
  });
  const handlers: Record<string, Handler> = {
    'job.open': async (params) => {
      const storage = opener.open(params.storeid, params.scfg);
      provider = storage.newBackupProvider((level, message) => session.log(level, message));
      assertSpecificationVersion(provider, 'backup provider');
      return null;
    },
  };
  for (const [name, handler] of Object.entries(forward)) handlers[`provider.${name}`] = handler;
  const session = new Session(socket, { role: 'job', type: plugin.type, handlers });

  let ending = false;
  const end = (reason: string, code = 0): void => {
    if (ending) return;
    ending = true;
    session.abortAll(reason);
    const timer = setTimeout(() => process.exit(code), DRAIN_GRACE_MS);
    timer.unref();
    void session.drain().then(() => {
      socket.end();
      process.exit(code);
    });
  };
  socket.on('close', () => end('the job ended (its Perl side closed the connection)'));
  const parent = process.ppid;
  setInterval(() => {
    if (process.ppid !== parent) end(`the Perl parent ${parent} died`, 1);
  }, PARENT_POLL_MS).unref();
  process.on('SIGTERM', () => end('terminated (SIGTERM)', 1));
  process.on('SIGINT', () => end('interrupted (SIGINT)', 1));
}
