import { createInterface } from 'node:readline';
import type { DiskRegion } from '@bp/api';
import { BpError } from '@bp/api';
import { execa } from 'execa';

/** One line of `nbdinfo --map` ("offset length type description"): undefined for blank lines. */
function parseMapLine(line: string): { offset: number; length: number; type: number } | undefined {
  const fields = line.trim().split(/\s+/);
  if (fields.length < 3 || fields[0] === '') return undefined;
  const [offset, length, type] = fields.map(Number);
  if (offset === undefined || length === undefined || type === undefined || [offset, length, type].some((value) => !Number.isSafeInteger(value))) {
    throw new BpError('BP_NBD_PROTOCOL', `nbdinfo printed an unexpected map line: ${JSON.stringify(line)}`, { details: { line } });
  }
  return { offset, length, type };
}

/**
 * Parses one line of `nbdinfo --map=qemu:dirty-bitmap:...`; returns the region if bit 0 of the
 * type (dirty) is set, undefined for clean extents and blank lines.
 */
export function parseDirtyMapLine(line: string): DiskRegion | undefined {
  const extent = parseMapLine(line);
  return extent && (extent.type & 1) === 1 && extent.length > 0 ? { offset: extent.offset, length: extent.length } : undefined;
}

/**
 * Parses one line of `nbdinfo --map` (`base:allocation`); returns the region if it may hold data
 * (bit 1, "reads as zero", clear), undefined for holes, zeroes and blank lines.
 */
export function parseAllocationMapLine(line: string): DiskRegion | undefined {
  const extent = parseMapLine(line);
  return extent && (extent.type & 2) === 0 && extent.length > 0 ? { offset: extent.offset, length: extent.length } : undefined;
}

/**
 * Streams the dirty extents of `qemu:dirty-bitmap:<bitmapName>` of an export, ascending, as PVE's
 * `next-dirty-region` does (via `nbdinfo --map`). Stopping the iteration early stops nbdinfo.
 *
 * @throws BpError `BP_NBD_IO` if nbdinfo fails.
 */
export function streamDirtyRegions(uri: string, bitmapName: string, signal?: AbortSignal): AsyncGenerator<DiskRegion> {
  return streamMap(uri, `qemu:dirty-bitmap:${bitmapName}`, parseDirtyMapLine, `the dirty bitmap ${bitmapName}`, signal);
}

/**
 * Streams the extents of an export that may hold data (`base:allocation` without the zero flag),
 * ascending: what a full backup must read when bp itself is the host. Everything else reads as
 * zeroes. Stopping the iteration early stops nbdinfo.
 *
 * @throws BpError `BP_NBD_IO` if nbdinfo fails.
 */
export function streamAllocatedRegions(uri: string, signal?: AbortSignal): AsyncGenerator<DiskRegion> {
  return streamMap(uri, 'base:allocation', parseAllocationMapLine, 'the allocation map', signal);
}

async function* streamMap(
  uri: string,
  context: string,
  parse: (line: string) => DiskRegion | undefined,
  what: string,
  signal: AbortSignal | undefined,
): AsyncGenerator<DiskRegion> {
  const child = execa('nbdinfo', [`--map=${context}`, uri], {
    stdin: 'ignore',
    buffer: { stdout: false, stderr: true },
    reject: false,
    cleanup: true,
    ...(signal ? { cancelSignal: signal } : {}),
  });
  let finished = false;
  try {
    const lines = createInterface({ input: child.stdout, crlfDelay: Infinity });
    for await (const line of lines) {
      const region = parse(line);
      if (region) yield region;
    }
    const result = await child;
    finished = true;
    if (result.failed) {
      throw new BpError('BP_NBD_IO', `nbdinfo could not read ${what}: ${String(result.stderr).trim() || result.shortMessage}`, {
        details: { uri, context },
      });
    }
  } finally {
    if (!finished) {
      child.kill('SIGTERM');
      await child.catch(() => undefined);
    }
  }
}
