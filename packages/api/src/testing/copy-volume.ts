import { notSupported } from '../define/not-supported.js';
import type { BackupVmInfo, VmVolume } from '../provider/vm-volume.js';
import { BandwidthLimiter } from '../rate-limit/bandwidth-limiter.js';

const CHUNK = 1024 * 1024;

/**
 * Reads a `file-handle` volume's dirty regions into `image` (a copy of the base image for an
 * incremental, zeroes otherwise), discarding each chunk on the source once it is stored and
 * keeping under `info.bandwidthLimit` bytes per second.
 */
export async function copyVolume(device: string, volume: VmVolume, image: Buffer, info: BackupVmInfo): Promise<void> {
  if (volume.mechanism !== 'file-handle') throw notSupported(`backup of ${device} over ${volume.mechanism}`, 'the memory provider reads file-handle volumes only');
  const limiter = info.bandwidthLimit ? new BandwidthLimiter(info.bandwidthLimit, CHUNK, { initialCredit: 0 }) : undefined;
  for await (const region of volume.dirtyRegions()) {
    for (let offset = region.offset; offset < region.offset + region.length; offset += CHUNK) {
      info.signal?.throwIfAborted();
      const length = Math.min(CHUNK, region.offset + region.length - offset);
      let done = 0;
      while (done < length) {
        const { bytesRead } = await volume.fileHandle.read(image, offset + done, length - done, offset + done);
        if (bytesRead === 0) throw new Error(`${device}: unexpected end of data at ${offset + done}`);
        done += bytesRead;
      }
      await volume.discard(offset, length);
      await limiter?.take(length, info.signal);
    }
  }
}
