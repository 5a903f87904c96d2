import type { QmpClient } from '@bp/nbd/qemu';
import type { CleanupStack } from './cleanup-stack.js';

/** libnbd's URI of an export on a Unix socket. */
export function nbdUnixUri(socketPath: string, exportName: string): string {
  return `nbd+unix:///${encodeURIComponent(exportName)}?socket=${encodeURIComponent(socketPath)}`;
}

/** Starts QEMU's NBD server on a Unix socket; the stack stops it. */
export async function startNbdServer(qmp: QmpClient, socketPath: string, stack: CleanupStack): Promise<void> {
  await qmp.execute('nbd-server-start', { addr: { type: 'unix', data: { path: socketPath } } });
  stack.push('NBD server', () => qmp.execute('nbd-server-stop').then(() => undefined));
}

/** Options of {@link addNbdExport}. */
export interface NbdExportOptions {
  /** Export ID and name. */
  name: string;
  node: string;
  writable: boolean;
  /** Exported dirty bitmap (metadata context `qemu:dirty-bitmap:<name>`). */
  bitmap?: { node: string; name: string } | undefined;
}

/** Adds an NBD export; the stack removes it (dropping connected clients). */
export async function addNbdExport(qmp: QmpClient, options: NbdExportOptions, stack: CleanupStack): Promise<void> {
  await qmp.execute('block-export-add', {
    type: 'nbd',
    id: options.name,
    name: options.name,
    'node-name': options.node,
    writable: options.writable,
    ...(options.bitmap ? { bitmaps: [options.bitmap] } : {}),
  });
  stack.push(`NBD export ${options.name}`, () => deleteExport(qmp, options.name));
}

/** Removes an export (dropping connected clients) and waits until QEMU has released its node. */
export async function deleteExport(qmp: QmpClient, id: string): Promise<void> {
  const deleted = qmp.waitForEvent('BLOCK_EXPORT_DELETED', (event) => event.data.id === id);
  deleted.catch(() => undefined);
  await qmp.execute('block-export-del', { id, mode: 'hard' });
  await deleted;
}
