import { createInterface } from 'node:readline';
import type { DiskRegion } from '@bp/api';
import { BpError } from '@bp/api';
import { execa } from 'execa';

/**
 * Parses one line of `nbdinfo --map` ("offset length type description"); returns the region if
 * bit 0 of the type (dirty) is set, undefined for clean extents and blank lines.
 */
export function parseDirtyMapLine(line: string): DiskRegion | undefined {
  const fields = line.trim().split(/\s+/);
  if (fields.length < 3 || fields[0] === '') return undefined;
  const [offset, length, type] = fields.map(Number);
  if (offset === undefined || length === undefined || type === undefined || [offset, length, type].some((value) => !Number.isSafeInteger(value))) {
    throw new BpError('BP_NBD_PROTOCOL', `nbdinfo printed an unexpected map line: ${JSON.stringify(line)}`, { details: { line } });
  }
  return (type & 1) === 1 && length > 0 ? { offset, length } : undefined;
}

/**
 * Streams the dirty extents of `qemu:dirty-bitmap:<bitmapName>` of an export, ascending, as PVE's
 * `next-dirty-region` does (via `nbdinfo --map`). Stopping the iteration early stops nbdinfo.
 *
 * @throws BpError `BP_NBD_IO` if nbdinfo fails.
 */
export async function* streamDirtyRegions(uri: string, bitmapName: string, signal?: AbortSignal): AsyncGenerator<DiskRegion> {
  const child = execa('nbdinfo', [`--map=qemu:dirty-bitmap:${bitmapName}`, uri], {
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
      const region = parseDirtyMapLine(line);
      if (region) yield region;
    }
    const result = await child;
    finished = true;
    if (result.failed) {
      throw new BpError('BP_NBD_IO', `nbdinfo could not read the dirty bitmap ${bitmapName}: ${String(result.stderr).trim() || result.shortMessage}`, {
        details: { uri, bitmapName },
      });
    }
  } finally {
    if (!finished) {
      child.kill('SIGTERM');
      await child.catch(() => undefined);
    }
  }
}
