import type { NbdClient } from '../client/nbd-client.js';
import type { CopySource } from './source.js';

/** The NBD client as a copy source; `discard` is NBD TRIM. */
export function nbdSource(client: NbdClient): CopySource {
  return {
    get size() {
      return client.size;
    },
    read: (offset, length, buffer) => client.read(offset, length, buffer),
    discard: (offset, length) => client.trim(offset, length),
  };
}
