import { chmodSync, existsSync, unlinkSync } from 'node:fs';
import { connect, createServer, type Socket } from 'node:net';
import type { BackupStoragePlugin } from '@bp/api';
import { Session } from './session.js';
import { storageHandlers, StorageOpener } from './storage-handlers.js';

function isAlive(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = connect(path);
    probe.once('connect', () => {
      probe.destroy();
      resolve(true);
    });
    probe.once('error', () => resolve(false));
  });
}

/**
 * Storage mode: one long-lived process per storage type on a named Unix socket, shared by every
 * PVE process (pvestatd, pvedaemon workers, pvesm). Read-only calls (status, list_volumes,
 * parse_volname ...) cost one round trip, not a Node start. Exits after `idleSeconds` without
 * connections, on `bp.shutdown` and on SIGTERM. A second server for the same socket exits at
 * once, so racing starters are harmless.
 */
export async function runStorageServer(plugin: BackupStoragePlugin, socketPath: string, idleSeconds: number): Promise<void> {
  if (existsSync(socketPath)) {
    if (await isAlive(socketPath)) process.exit(0);
    unlinkSync(socketPath);
  }
  const handlers: Record<string, ReturnType<typeof storageHandlers>[string]> = {};
  for (const [name, handler] of Object.entries(storageHandlers(new StorageOpener(plugin)))) handlers[`storage.${name}`] = handler;

  const sockets = new Set<Socket>();
  let idleTimer: NodeJS.Timeout | undefined;
  const stop = (): void => {
    server.close();
    for (const socket of sockets) socket.destroy();
    try {
      unlinkSync(socketPath);
    } catch {
      // already gone
    }
    process.exit(0);
  };
  const armIdle = (): void => {
    if (idleTimer) clearTimeout(idleTimer);
    idleTimer = sockets.size === 0 ? setTimeout(stop, idleSeconds * 1000) : undefined;
  };
  const server = createServer((socket) => {
    sockets.add(socket);
    armIdle();
    socket.on('close', () => {
      sockets.delete(socket);
      armIdle();
    });
    new Session(socket, { role: 'storage', type: plugin.type, handlers, onShutdown: () => setImmediate(stop) });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(socketPath, () => resolve());
  });
  chmodSync(socketPath, 0o600);
  armIdle();
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}
