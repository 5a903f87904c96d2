import { constants } from 'node:fs';
import { open } from 'node:fs/promises';
import { join } from 'node:path';
import type { DiskRegion, FileHandleVmVolume, BitmapMode } from '@bp/api';
import { BpError } from '@bp/api';
import { NbdClient } from '@bp/nbd';
import type { CleanupStack } from '../cleanup-stack.js';
import { nbdUnixUri } from '../nbd-exports.js';
import { streamAllocatedRegions, streamDirtyRegions } from './dirty-regions.js';
import { mountNbdfuse } from './nbdfuse-mount.js';

/** Options of {@link createFileHandleVolume}. */
export interface FileHandleVolumeOptions {
  device: string;
  size: number;
  bitmapMode: BitmapMode;
  bitmapName: string | undefined;
  /** See `VmVolume.bitmapGeneration`. */
  bitmapGeneration?: string;
  nbdPath: string;
  runDir: string;
  stack: CleanupStack;
  signal?: AbortSignal | undefined;
}

/**
 * The `file-handle` mechanism for one device (spec 1.2.3): the export as a file through nbdfuse,
 * opened O_RDWR | O_DIRECT like qemu-server (direct, so FUSE does not read ahead into regions
 * outside the dirty extents; writable, as PVE opens it), dirty regions from `nbdinfo --map` and
 * discard as an NBD trim of the same export.
 */
export async function createFileHandleVolume(options: FileHandleVolumeOptions): Promise<FileHandleVmVolume> {
  const { device, size, bitmapName, stack } = options;
  const uri = nbdUnixUri(options.nbdPath, device);
  const mount = await mountNbdfuse(join(options.runDir, `fuse-${device}`), device, uri);
  stack.push(`nbdfuse mount of ${device}`, () => mount.unmount());
  const fileHandle = await open(mount.path, constants.O_RDWR | constants.O_DIRECT);
  stack.push(`file handle of ${device}`, () => fileHandle.close());

  // What a hole punch on the nbdfuse file would become (an NBD trim, dropping the region from the
  // fleecing image), sent on a connection of our own: a punch needs a process (Node has no
  // fallocate), and one per copied piece cost seconds per GiB.
  let trimmer: Promise<NbdClient> | undefined;
  const discard = async (offset: number, length: number): Promise<void> => {
    if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || offset < 0 || length <= 0) {
      throw new BpError('BP_INVALID_ARGUMENT', `discard needs a non-negative offset and a positive length, got ${String(offset)}+${String(length)}`);
    }
    trimmer ??= NbdClient.connect(uri).then((client) => {
      stack.push(`discard connection of ${device}`, () => client.close());
      return client;
    });
    try {
      await (await trimmer).trim(offset, length);
    } catch (error) {
      throw new BpError('BP_NBD_IO', `could not discard ${String(length)} bytes at ${String(offset)} of ${device}: ${(error as Error).message}`, {
        cause: error,
        details: { device, offset, length },
      });
    }
  };

  return {
    mechanism: 'file-handle',
    size,
    bitmapMode: options.bitmapMode,
    ...(options.bitmapGeneration === undefined ? {} : { bitmapGeneration: options.bitmapGeneration }),
    fileHandle,
    filePath: mount.path,
    // Only a reused bitmap limits what may be read. Otherwise everything is read (PVE announces
    // (0, size)); bp's own host announces only what may hold data, and the rest reads as zeroes.
    dirtyRegions: (): AsyncIterable<DiskRegion> =>
      options.bitmapMode === 'reuse' && bitmapName !== undefined ? streamDirtyRegions(uri, bitmapName, options.signal) : streamAllocatedRegions(uri, options.signal),
    discard,
  };
}
