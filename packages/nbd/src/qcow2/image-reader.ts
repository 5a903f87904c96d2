import { BpError } from '@bp/api/errors';
import { NbdClient } from '../client/index.js';
import { startQemuNbd, type QemuNbdServer } from '../qemu/index.js';

/** Reads guest bytes of a disk image. */
export interface ImageReader {
  /** Reads `[offset, offset + length)` of the image as the guest sees it (backing chain included). */
  read(offset: number, length: number): Promise<Uint8Array>;
  /** Stops whatever the reader started. Idempotent. */
  close(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

/**
 * A reader for an image (and its backing chain) that starts a read-only qemu-nbd only on the
 * first read — meant as `readBacking` of {@link createQcow2Target}, where reads are rare (partial
 * clusters only), so the common aligned case never starts a process.
 */
export function openImageReader(image: string, format: 'qcow2' | 'raw' = 'qcow2'): ImageReader {
  let opening: Promise<{ server: QemuNbdServer; client: NbdClient }> | undefined;
  let closed: Promise<void> | undefined;
  const open = (): Promise<{ server: QemuNbdServer; client: NbdClient }> => {
    opening ??= (async () => {
      const server = await startQemuNbd({ image, format, readOnly: true });
      try {
        return { server, client: await NbdClient.connect(server.uri) };
      } catch (error) {
        await server.stop();
        throw error;
      }
    })();
    return opening;
  };
  const close = (): Promise<void> => {
    closed ??= (async () => {
      if (!opening) return;
      const opened = await opening.catch(() => undefined);
      if (!opened) return;
      try {
        await opened.client.close();
      } finally {
        await opened.server.stop();
      }
    })();
    return closed;
  };
  return {
    async read(offset, length) {
      if (closed) throw new BpError('BP_INVALID_ARGUMENT', `the reader of ${image} is closed`);
      const { client } = await open();
      return client.read(offset, length);
    },
    close,
    [Symbol.asyncDispose]: close,
  };
}
