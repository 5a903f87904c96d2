import type { DiskRegion, FileHandleVmVolume, NbdVmVolume } from '@bp/api';
import { BpError } from '@bp/api';
import { NbdClient } from '@bp/nbd';
import type { RegionSource } from './copy-regions.js';

/** Only changes since the last backup are dirty when QEMU reuses the bitmap; else read everything. */
function usesBitmap(volume: { bitmapMode: string }): boolean {
  return volume.bitmapMode === 'reuse';
}

async function* wholeDisk(size: number): AsyncGenerator<DiskRegion> {
  if (size > 0) yield { offset: 0, length: size };
}

/** Dirty extents (flag bit 0) of `context`, paged through NBD block status, coalesced. */
async function* dirtyExtents(client: NbdClient, context: string, size: number): AsyncGenerator<DiskRegion> {
  let offset = 0;
  let pending: DiskRegion | undefined;
  while (offset < size) {
    const extents = (await client.blockStatus(offset, size - offset)).get(context) ?? [];
    if (extents.length === 0) throw new BpError('BP_NBD_PROTOCOL', `the server described no extents of ${context} at offset ${offset}`);
    for (const extent of extents) {
      if ((extent.flags & 1) !== 0) {
        if (pending && pending.offset + pending.length === extent.offset) pending.length += extent.length;
        else {
          if (pending) yield pending;
          pending = { offset: extent.offset, length: extent.length };
        }
      }
      offset = extent.offset + extent.length;
    }
  }
  if (pending) yield pending;
}

/** An open source plus how to release it. */
export interface OpenSource {
  source: RegionSource;
  close(): Promise<void>;
}

/** Mechanism `nbd`: connects to QEMU's export, negotiating the dirty-bitmap context when it is in use. */
export async function openNbdSource(volume: NbdVmVolume, signal?: AbortSignal): Promise<OpenSource> {
  const context = usesBitmap(volume) && volume.bitmapName ? `qemu:dirty-bitmap:${volume.bitmapName}` : undefined;
  const client = await NbdClient.connect({ socketPath: volume.nbdPath, exportName: volume.exportName }, { metaContexts: context ? [context] : [], signal });
  if (context && !client.metaContexts.includes(context)) {
    await client.close();
    throw new BpError('BP_NBD_UNSUPPORTED', `export ${volume.exportName} does not offer ${context}; the host must export the bitmap it announced`);
  }
  const size = Math.min(volume.size, client.size);
  return {
    source: {
      regions: () => (context ? dirtyExtents(client, context, size) : wholeDisk(size)),
      read: (offset, length) => client.read(offset, length),
      discard: (offset, length) => (client.can.trim ? client.trim(offset, length) : Promise.resolve()),
    },
    close: () => client.close(),
  };
}

/** Mechanism `file-handle`: reads the host's open file at the regions it announces; discard punches holes. */
export function fileHandleSource(volume: FileHandleVmVolume): OpenSource {
  return {
    source: {
      regions: () => (usesBitmap(volume) ? volume.dirtyRegions() : wholeDisk(volume.size)),
      async read(offset, length) {
        const buffer = Buffer.alloc(length);
        let done = 0;
        while (done < length) {
          const { bytesRead } = await volume.fileHandle.read(buffer, done, length - done, offset + done);
          if (bytesRead === 0) throw new BpError('BP_BACKUP_FAILED', `${volume.filePath} ended at ${offset + done}, inside a dirty region ending at ${offset + length}`);
          done += bytesRead;
        }
        return buffer;
      },
      discard: (offset, length) => volume.discard(offset, length),
    },
    close: async () => undefined,
  };
}
