import { startQemuNbd, type QemuNbdOptions, type QemuNbdServer } from '@bp/nbd/qemu';
import { afterEach, beforeEach } from 'vitest';
import { makeTempDir } from './temp-dir.js';

/**
 * Per-test scratch directory plus qemu-nbd servers that are stopped after each test. Call at
 * the top of a test file; `path()` is the current test's directory.
 */
export function useQemuNbdScratch(): {
  path: () => string;
  serve: (image: string, options?: Omit<QemuNbdOptions, 'image' | 'format'>) => Promise<QemuNbdServer>;
} {
  let dir: { path: string; remove: () => Promise<void> };
  let servers: QemuNbdServer[] = [];
  beforeEach(async () => {
    dir = await makeTempDir();
    servers = [];
  });
  afterEach(async () => {
    for (const server of servers) await server.stop();
    await dir.remove();
  });
  return {
    path: () => dir.path,
    serve: async (image, options = {}) => {
      const server = await startQemuNbd({ image, format: 'qcow2', ...options });
      servers.push(server);
      return server;
    },
  };
}
