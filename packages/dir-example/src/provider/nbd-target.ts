import type { CopyTarget, NbdClient } from '@bp/nbd';

/** A copy target over a writable NBD export (qemu-nbd serving the new qcow2). */
export function nbdCopyTarget(client: NbdClient, zeroInitialized: boolean): CopyTarget {
  let closed = false;
  return {
    zeroInitialized,
    write: (offset, data) => client.write(offset, data),
    writeZeroes: (offset, length) => client.writeZeroes(offset, length),
    flush: () => client.flush(),
    async close() {
      if (closed) return;
      closed = true;
      await client.close();
    },
  };
}
