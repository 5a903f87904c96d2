import { constants } from 'node:fs';
import { open, readFile, type FileHandle } from 'node:fs/promises';
import { BpError, type DiskRegion, type FileHandleVmVolume, type LogFunction } from '@bp/api';
import type { BridgedFileHandleEntry } from '../translate/provider-args.js';

/** Linux's O_ACCMODE (Node's fs.constants lacks it). */
const O_ACCMODE = 0o3;

/** PVE's dirty-bitmap granularity (`PROXMOX_BACKUP_DEFAULT_CHUNK_SIZE`): dirty extents are aligned to it. */
export const PVE_GRANULE = 4 * 1024 * 1024;
/** Regions asked for per `regions.next` round trip. */
const BATCH = 256;
/** Bytes read by one tail probe (a multiple of every logical block size O_DIRECT may need). */
const PROBE_BYTES = 4096;

/** Asks the Perl side for the next batch of one stream's regions. */
export type RegionRequester = (stream: string, max: number) => Promise<unknown>;

/** Sends a request to the Perl side while `backup_vm` runs there (`regions.next`, `volume.discard`). */
export type PerlRequester = (method: string, params: Record<string, unknown>) => Promise<unknown>;

/** An opened file-handle volume and what must happen when `backupVm` returned. */
export interface BridgedFileHandle {
  volume: FileHandleVmVolume;
  close(): Promise<void>;
}

/** The `flags:` field of `/proc/<pid>/fdinfo/<fd>` (octal). */
async function fdFlags(pid: number | string, fd: number): Promise<number> {
  const info = await readFile(`/proc/${pid}/fdinfo/${fd}`, 'utf8');
  const match = /^flags:\s*([0-7]+)$/m.exec(info);
  if (!match?.[1]) throw new Error(`no flags in /proc/${pid}/fdinfo/${fd}`);
  return Number.parseInt(match[1], 8);
}

/**
 * Opens the file behind PVE's Perl file handle in this process. Node cannot receive a descriptor
 * over a socket (SCM_RIGHTS) without a native add-on, so it opens `/proc/<perl pid>/fd/<fd>`:
 * the same file (for `file-handle`, the nbdfuse view of the snapshot export), newly opened with
 * the original's access mode and O_DIRECT, read from the original's fdinfo and checked on our
 * own descriptor afterwards. Reads outside the dirty extents fail on it as on the original,
 * because they are refused by QEMU behind the file, not by the descriptor.
 *
 * @throws BpError `BP_BACKUP_FAILED` if the descriptor is gone or cannot be opened the same way.
 */
export async function openPerlFileHandle(device: string, pid: number, fd: number): Promise<{ handle: FileHandle; path: string; flags: string }> {
  const path = `/proc/${pid}/fd/${fd}`;
  let handle: FileHandle | undefined;
  try {
    const flags = await fdFlags(pid, fd);
    const wanted = (flags & O_ACCMODE) | (flags & constants.O_DIRECT);
    handle = await open(path, wanted);
    const own = await fdFlags(process.pid, handle.fd);
    if ((own & constants.O_DIRECT) !== (flags & constants.O_DIRECT) || (own & O_ACCMODE) !== (flags & O_ACCMODE)) {
      throw new Error(`reopened with flags ${own.toString(8)}, the original has ${flags.toString(8)}`);
    }
    const mode = ['O_RDONLY', 'O_WRONLY', 'O_RDWR'][flags & O_ACCMODE] ?? 'O_ACCMODE?';
    return { handle, path, flags: (flags & constants.O_DIRECT) !== 0 ? `${mode}|O_DIRECT` : mode };
  } catch (error) {
    await handle?.close().catch(() => undefined);
    throw new BpError('BP_BACKUP_FAILED', `cannot open the file handle of ${device} (fd ${fd} of PVE process ${pid}) in the bridge's Node process: ${(error as Error).message}; the bridge must run as root on the PVE host`, {
      cause: error,
      details: { device, pid, fd },
    });
  }
}

function regionsOf(device: string, reply: unknown): { regions: DiskRegion[]; done: boolean } {
  const value = reply as { regions?: unknown; done?: unknown } | null;
  if (!value || !Array.isArray(value.regions)) throw new BpError('BP_BRIDGE_PROTOCOL', `regions.next for ${device} returned no region list`);
  const regions = value.regions.map((pair: unknown) => {
    const [offset, length] = Array.isArray(pair) ? (pair as unknown[]).map(Number) : [];
    if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length)) throw new BpError('BP_BACKUP_FAILED', `next-dirty-region of ${device} returned ${JSON.stringify(pair)}, not (offset, length)`);
    return { offset: offset!, length: length! };
  });
  return { regions, done: value.done === true };
}

/**
 * The regions of PVE's `next-dirty-region` closure, drained in batches over the bridge. The
 * stream is checked, because PVE itself does not look at nbdinfo's exit status and a stream that
 * ends early would otherwise be a silently short backup:
 * - regions must ascend, not overlap, stay inside the disk and have a length;
 * - without a bitmap, or with a new (fully dirty) one, they must cover the whole disk;
 * - with a reused bitmap, every 4 MiB granule after the last region is probed: reads outside the
 *   dirty extents fail, so a granule that can be read was dirty and the stream ended early.
 *
 * @throws BpError `BP_BACKUP_FAILED` for a stream that fails, ends early or breaks the rules.
 */
export async function* bridgedDirtyRegions(entry: BridgedFileHandleEntry, device: string, next: RegionRequester, handle: FileHandle, signal?: AbortSignal): AsyncGenerator<DiskRegion> {
  const stream = entry.stream;
  if (stream === undefined) {
    yield { offset: 0, length: entry.size };
    return;
  }
  let end = 0;
  let covered = 0;
  for (;;) {
    signal?.throwIfAborted();
    const batch = regionsOf(device, await next(stream, BATCH));
    for (const region of batch.regions) {
      if (region.length <= 0 || region.offset < end || region.offset + region.length > entry.size) {
        throw new BpError('BP_BACKUP_FAILED', `next-dirty-region of ${device} returned ${region.offset}+${region.length} after ${end} on a disk of ${entry.size} bytes; regions must ascend inside the disk`, {
          details: { device, offset: region.offset, length: region.length },
        });
      }
      end = region.offset + region.length;
      covered += region.length;
      yield region;
    }
    if (batch.done) break;
  }
  if (entry.bitmapMode !== 'reuse') {
    if (covered !== entry.size) {
      throw new BpError('BP_BACKUP_FAILED', `the dirty regions of ${device} cover ${covered} of ${entry.size} bytes, but its bitmap is ${entry.bitmapMode === 'new' ? 'new (everything is dirty)' : 'absent'}; the region stream (nbdinfo) ended early`, {
        details: { device, covered, size: entry.size },
      });
    }
    return;
  }
  await probeTail(device, handle, end, entry.size, signal);
}

const REFUSED = new Set(['EINVAL', 'EIO', 'EPERM', 'EACCES']);

/** Fails if a granule after `from` can be read: it was dirty but its region never came. */
async function probeTail(device: string, handle: FileHandle, from: number, size: number, signal?: AbortSignal): Promise<void> {
  const buffer = Buffer.alloc(PROBE_BYTES);
  for (let offset = Math.ceil(from / PVE_GRANULE) * PVE_GRANULE; offset < size; offset += PVE_GRANULE) {
    signal?.throwIfAborted();
    const length = Math.min(PROBE_BYTES, size - offset);
    let readable: boolean;
    try {
      readable = (await handle.read(buffer, 0, length, offset)).bytesRead > 0;
    } catch (error) {
      // QEMU refuses a read outside the dirty extents (EACCES inside QEMU; NBD has no such error
      // and carries it as EINVAL, older servers as EIO or EPERM): a clean granule, as expected.
      if (REFUSED.has((error as NodeJS.ErrnoException).code ?? '')) continue;
      throw new BpError('BP_BACKUP_FAILED', `cannot check the end of the dirty regions of ${device} at ${offset}: ${(error as Error).message}`, { cause: error });
    }
    if (readable) {
      throw new BpError('BP_BACKUP_FAILED', `the dirty regions of ${device} ended at ${from}, but the disk is readable (dirty) at ${offset}; the region stream (nbdinfo) ended early`, {
        details: { device, end: from, readableAt: offset },
      });
    }
  }
}

/** A `file-handle` volume as the TS provider sees it, made of PVE's Perl handle and closure. */
export async function openBridgedFileHandle(
  device: string,
  entry: BridgedFileHandleEntry,
  request: PerlRequester,
  log: LogFunction,
  signal?: AbortSignal,
): Promise<BridgedFileHandle> {
  const next: RegionRequester = (stream, max) => request('regions.next', { stream, max });
  const { handle, path, flags } = await openPerlFileHandle(device, entry.pid, entry.fd);
  log('info', `${device}: PVE's file handle (fd ${entry.fd} of process ${entry.pid}) opened as ${path} with ${flags}`);
  let consumed = false;
  const volume: FileHandleVmVolume = {
    mechanism: 'file-handle',
    size: entry.size,
    bitmapMode: entry.bitmapMode,
    fileHandle: handle,
    filePath: path,
    dirtyRegions: () => {
      if (consumed) throw new BpError('BP_INVALID_ARGUMENT', `the dirty regions of ${device} can be iterated once`);
      consumed = true;
      return bridgedDirtyRegions(entry, device, next, handle, signal);
    },
    // PVE::Storage::Common::deallocate on PVE's own handle (fallocate PUNCH_HOLE | KEEP_SIZE,
    // which nbdfuse turns into an NBD trim), in the Perl process: Node has no fallocate.
    discard: async (offset, length) => {
      await request('volume.discard', { stream: device, offset, length });
    },
  };
  return { volume, close: () => handle.close() };
}
