import type { NbdClient } from '../client/nbd-client.js';
import type { CopyTarget } from './target.js';

/** Options of {@link createNbdTarget}. */
export interface NbdTargetOptions {
  /** The export is fresh and sparse without a backing file, so unwritten ranges read as zero. */
  zeroInitialized?: boolean;
  /** Close the client when the target is closed (default false: the caller owns it). */
  closeClient?: boolean;
}

/** A writable NBD export as a copy target (e.g. a qcow2 served by qemu-nbd). */
export function createNbdTarget(client: NbdClient, options: NbdTargetOptions = {}): CopyTarget {
  return {
    zeroInitialized: options.zeroInitialized ?? false,
    write: (offset, data) => client.write(offset, data),
    writeZeroes: (offset, length) => client.writeZeroes(offset, length),
    flush: () => client.flush(),
    close: async () => {
      if (options.closeClient) await client.close();
    },
  };
}
