import type { FileHandleVmVolume, NbdVmVolume, VmVolume } from '@bp/api';
import { BpError } from '@bp/api/errors';
import { NbdClient } from '../client/index.js';
import { allocatedRegions, dirtyBitmapContext, dirtyRegions, wholeRegion, type Region } from '../extents/index.js';
import type { CopySource } from './source.js';

/** The NBD metadata context of the allocation map (holes and zeroes). */
const ALLOCATION = 'base:allocation';

/** Only changes since the last backup are dirty when QEMU reuses the bitmap; else read everything. */
function usesBitmap(volume: { bitmapMode: string }): boolean {
  return volume.bitmapMode === 'reuse';
}

/** How a VM volume is read. */
export interface VolumeSourceOptions {
  /**
   * Read every byte, holes included, even where the host announces less. Needed when the target
   * is an overlay that stores only differences: a hole not read would show the base's data.
   */
  wholeDisk?: boolean;
  /** Aborts connecting and reading the allocation map (mechanism `nbd`). */
  signal?: AbortSignal;
}

/** The snapshot access of one device, ready for {@link copyRegions}. */
export interface VolumeSource {
  source: CopySource | NbdClient;
  /** Regions to read, ascending; reading outside them fails on a PVE export. */
  regions: AsyncIterable<Region>;
  /** Sum of the region lengths when known in advance (a full image: the disk size), for progress. */
  totalBytes?: number;
  close(): Promise<void>;
}

/**
 * Opens the snapshot access a host passed to `backupVm` for one device as a copy source with the
 * regions to read: the glue every provider writes between `@bp/api`'s {@link VmVolume} and the
 * copy engine. Close it when done.
 *
 * @throws BpError `BP_INVALID_ARGUMENT` for a reused bitmap without a name, `BP_NBD_UNSUPPORTED`
 *   when the export lacks the announced bitmap.
 */
export async function openVmVolumeSource(volume: VmVolume, options: VolumeSourceOptions = {}): Promise<VolumeSource> {
  return volume.mechanism === 'nbd' ? openNbdVolumeSource(volume, options) : fileHandleVolumeSource(volume, options);
}

/**
 * Mechanism `nbd`: connects to QEMU's export. With a reused bitmap only its dirty extents are
 * read; otherwise (a full image) the export's `base:allocation` map, where offered, skips holes
 * and zeroes, which the new image leaves unallocated.
 */
export async function openNbdVolumeSource(volume: NbdVmVolume, options: VolumeSourceOptions = {}): Promise<VolumeSource> {
  const { signal } = options;
  const bitmap = usesBitmap(volume) ? volume.bitmapName : undefined;
  if (usesBitmap(volume) && bitmap === undefined) {
    throw new BpError('BP_INVALID_ARGUMENT', `device ${volume.exportName} reuses a bitmap but names none; the host must pass bitmapName with bitmapMode 'reuse'`);
  }
  const context = bitmap === undefined ? ALLOCATION : dirtyBitmapContext(bitmap);
  const client = await NbdClient.connect({ socketPath: volume.nbdPath, exportName: volume.exportName }, { metaContexts: [context], ...(signal ? { signal } : {}) });
  const offered = client.metaContexts.includes(context);
  if (bitmap !== undefined && !offered) {
    await client.close();
    throw new BpError('BP_NBD_UNSUPPORTED', `export ${volume.exportName} does not offer ${context}; the host must export the bitmap it announced`);
  }
  const size = Math.min(volume.size, client.size);
  const regions =
    bitmap !== undefined
      ? dirtyRegions(client, bitmap)
      : offered && options.wholeDisk !== true
        ? allocatedRegions(client, { length: size, ...(signal ? { signal } : {}) })
        : wholeRegion(size);
  return { source: client, regions, ...(bitmap === undefined ? { totalBytes: size } : {}), close: () => client.close() };
}

const FILE_HANDLE_DISCARD_BATCH = 64 * 1024 * 1024;

/**
 * Mechanism `file-handle`: reads the host's open file at the regions it announces; discard punches
 * holes. Without a reused bitmap the image is full and starts as zeroes, so a host may announce
 * only what holds data (bp's host does; PVE announces `(0, size)`): unannounced ranges stay zero.
 */
export function fileHandleVolumeSource(volume: FileHandleVmVolume, options: VolumeSourceOptions = {}): VolumeSource {
  const source: CopySource = {
    size: volume.size,
    async read(offset, length, buffer) {
      let done = 0;
      while (done < length) {
        const { bytesRead } = await volume.fileHandle.read(buffer, done, length - done, offset + done);
        if (bytesRead === 0) throw new BpError('BP_BACKUP_FAILED', `${volume.filePath} ended at ${offset + done}, inside a dirty region ending at ${offset + length}`);
        done += bytesRead;
      }
    },
    discard: (offset, length) => volume.discard(offset, length),
    // Each discard is a round trip through the host (bp's: an NBD trim; PVE's bridge: a request
    // to its Perl process): gather copied pieces into large ranges, as for a file source.
    discardBatch: FILE_HANDLE_DISCARD_BATCH,
  };
  const whole = options.wholeDisk === true && !usesBitmap(volume);
  return { source, regions: whole ? wholeRegion(volume.size) : volume.dirtyRegions(), ...(whole ? { totalBytes: volume.size } : {}), close: async () => undefined };
}
