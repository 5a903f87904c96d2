import { BpError, type FileHandleVmVolume, type NbdVmVolume } from '@bp/api';
import { dirtyBitmapContext, dirtyRegions, NbdClient, wholeRegion, type CopySource, type Region } from '@bp/nbd';

/** Only changes since the last backup are dirty when QEMU reuses the bitmap; else read everything. */
function usesBitmap(volume: { bitmapMode: string }): boolean {
  return volume.bitmapMode === 'reuse';
}

/** The snapshot access of one device, ready for the copy engine. */
export interface OpenSource {
  source: CopySource | NbdClient;
  /** Regions to read, ascending; reading outside them fails on a PVE export. */
  regions: AsyncIterable<Region>;
  close(): Promise<void>;
}

/** Mechanism `nbd`: connects to QEMU's export, negotiating the dirty-bitmap context when it is in use. */
export async function openNbdSource(volume: NbdVmVolume, signal?: AbortSignal): Promise<OpenSource> {
  const bitmap = usesBitmap(volume) ? volume.bitmapName : undefined;
  if (usesBitmap(volume) && bitmap === undefined) {
    throw new BpError('BP_INVALID_ARGUMENT', `device ${volume.exportName} reuses a bitmap but names none; the host must pass bitmapName with bitmapMode 'reuse'`);
  }
  const context = bitmap === undefined ? undefined : dirtyBitmapContext(bitmap);
  const client = await NbdClient.connect({ socketPath: volume.nbdPath, exportName: volume.exportName }, { metaContexts: context ? [context] : [], ...(signal ? { signal } : {}) });
  if (context && !client.metaContexts.includes(context)) {
    await client.close();
    throw new BpError('BP_NBD_UNSUPPORTED', `export ${volume.exportName} does not offer ${context}; the host must export the bitmap it announced`);
  }
  const size = Math.min(volume.size, client.size);
  return {
    source: client,
    regions: bitmap === undefined ? wholeRegion(size) : dirtyRegions(client, bitmap),
    close: () => client.close(),
  };
}

/** Mechanism `file-handle`: reads the host's open file at the regions it announces; discard punches holes. */
export function fileHandleSource(volume: FileHandleVmVolume): OpenSource {
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
  };
  return { source, regions: usesBitmap(volume) ? volume.dirtyRegions() : wholeRegion(volume.size), close: async () => undefined };
}
