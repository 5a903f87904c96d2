import { constants } from 'node:fs';
import { open } from 'node:fs/promises';
import { join } from 'node:path';
import type { DiskRegion, FileHandleVmVolume, BitmapMode } from '@bp/api';
import { BpError } from '@bp/api';
import { execa } from 'execa';
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
 * outside the dirty extents; writable, so discard works), dirty regions from `nbdinfo --map` and
 * discard as a hole punch.
 */
export async function createFileHandleVolume(options: FileHandleVolumeOptions): Promise<FileHandleVmVolume> {
  const { device, size, bitmapName, stack } = options;
  const uri = nbdUnixUri(options.nbdPath, device);
  const mount = await mountNbdfuse(join(options.runDir, `fuse-${device}`), device, uri);
  stack.push(`nbdfuse mount of ${device}`, () => mount.unmount());
  const fileHandle = await open(mount.path, constants.O_RDWR | constants.O_DIRECT);
  stack.push(`file handle of ${device}`, () => fileHandle.close());

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
    discard: (offset, length) => punchHole(mount.path, offset, length),
  };
}

/**
 * fallocate(PUNCH_HOLE | KEEP_SIZE) on the virtual file; nbdfuse turns it into an NBD trim, which
 * drops the region from the fleecing image. Node has no fallocate, so util-linux's tool does it.
 *
 * @throws BpError `BP_NBD_IO` if the hole cannot be punched.
 */
async function punchHole(path: string, offset: number, length: number): Promise<void> {
  if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || offset < 0 || length <= 0) {
    throw new BpError('BP_INVALID_ARGUMENT', `discard needs a non-negative offset and a positive length, got ${String(offset)}+${String(length)}`);
  }
  const result = await execa('fallocate', ['--punch-hole', '--keep-size', '--offset', String(offset), '--length', String(length), path], {
    reject: false,
  });
  if (result.failed) {
    throw new BpError('BP_NBD_IO', `could not discard ${String(length)} bytes at ${String(offset)} of ${path}: ${String(result.stderr).trim()}`, {
      details: { path, offset, length },
    });
  }
}
