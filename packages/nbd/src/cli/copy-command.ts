import { BpError } from '@bp/api/errors';
import { NbdClient } from '../client/nbd-client.js';
import { copyRegions, type CopyProgress, type CopyStats } from '../copy/copy-regions.js';
import { createFileTarget } from '../copy/file-target.js';
import { createNbdTarget } from '../copy/nbd-target.js';
// Straight from the target module: the qcow2 barrel also exports the qemu-backed image reader (execa).
import { createQcow2Target } from '../qcow2/qcow2-target.js';
import type { CopyTarget } from '../copy/target.js';
import { allocatedRegions, dataBytes, dirtyBitmapContext, dirtyRegions, wholeRegion } from '../extents/regions.js';
import type { Region } from '../extents/region.js';
import type { NbdCliIo } from './io.js';
import { formatSize } from './sizes.js';

/** Options of `bp-nbd copy`. */
export interface CopyCommandOptions {
  source: string;
  destination: string;
  bitmap?: string;
  requests?: number;
  connections?: number;
  requestSize?: number;
  bandwidthLimit?: number;
  progress: boolean;
  discardSource: boolean;
  targetIsZero: boolean;
  /** Format of a file DST (default: qcow2 for a `.qcow2` name, raw otherwise). */
  format?: 'raw' | 'qcow2';
  /** Backing file of a new qcow2 DST (an overlay for an incremental copy). */
  backing?: string;
  json: boolean;
}

const isNbdUri = (text: string): boolean => /^nbd(\+unix)?:/.test(text);

async function openTarget(options: CopyCommandOptions, size: number, io: NbdCliIo): Promise<{ target: CopyTarget; client?: NbdClient }> {
  if (!isNbdUri(options.destination)) {
    const format = options.format ?? (options.destination.endsWith('.qcow2') ? 'qcow2' : 'raw');
    if (format === 'qcow2') return { target: await createQcow2Target({ path: options.destination, size, backingFile: options.backing }) };
    if (options.backing) throw new BpError('BP_INVALID_ARGUMENT', '--backing needs a qcow2 destination.');
    return { target: await createFileTarget(options.destination, { size, ...(options.targetIsZero ? { zeroInitialized: true } : {}) }) };
  }
  if (options.backing || options.format) throw new BpError('BP_INVALID_ARGUMENT', '--format and --backing apply to file destinations only.');
  const client = await NbdClient.connect(options.destination, { signal: io.signal, connections: options.connections });
  if (client.size < size) {
    await client.close();
    throw new BpError('BP_INVALID_ARGUMENT', `The target export is ${client.size} bytes, smaller than the source (${size}); create a larger target.`);
  }
  return { target: createNbdTarget(client, { zeroInitialized: options.targetIsZero }), client };
}

function progressPrinter(io: NbdCliIo): (progress: CopyProgress) => void {
  let lastLine = 0;
  return (progress) => {
    const now = Date.now();
    const done = progress.bytesTotal ? progress.bytesDone >= progress.bytesTotal : false;
    if (!io.stderr.isTTY && now - lastLine < 1000 && !done) return;
    lastLine = now;
    const percent = progress.bytesTotal ? ` (${((progress.bytesDone / progress.bytesTotal) * 100).toFixed(1)}%)` : '';
    const total = progress.bytesTotal ? ` / ${formatSize(progress.bytesTotal)}` : '';
    const line = `copied ${formatSize(progress.bytesDone)}${total}${percent} at ${formatSize(progress.bytesPerSecond)}/s`;
    io.stderr.write(io.stderr.isTTY ? `\r${line}\u001b[K${done ? '\n' : ''}` : `${line}\n`);
  };
}

/** `copy SRC DST`: copies an export (or its dirty extents) to an NBD export, a raw file or a new qcow2 file. */
export async function copyCommand(options: CopyCommandOptions, io: NbdCliIo): Promise<number> {
  const context = options.bitmap ? dirtyBitmapContext(options.bitmap) : 'base:allocation';
  // With a bitmap only the bitmap is negotiated: snapshot-access exports refuse anything else outside dirty extents.
  await using source = await NbdClient.connect(options.source, { metaContexts: [context], signal: io.signal, connections: options.connections });
  if (options.bitmap && !source.metaContexts.includes(context)) {
    throw new BpError('BP_NOT_FOUND', `The source export has no dirty bitmap "${options.bitmap}"; check the bitmap name (qemu-nbd -B NAME).`);
  }
  const regions = (): AsyncIterable<Region> => {
    if (options.bitmap) return dirtyRegions(source, options.bitmap, { signal: io.signal });
    return source.metaContexts.includes(context) ? allocatedRegions(source, { signal: io.signal }) : wholeRegion(source.size);
  };
  const totalBytes = options.progress ? (options.bitmap ? await dataBytes(regions()) : source.size) : undefined;
  const { target, client } = await openTarget(options, source.size, io);
  let stats: CopyStats;
  try {
    stats = await copyRegions({
      source,
      target,
      regions: regions(),
      inFlight: options.requests,
      requestSize: options.requestSize,
      bandwidthLimit: options.bandwidthLimit,
      discardSource: options.discardSource,
      totalBytes,
      signal: io.signal,
      onProgress: options.progress ? progressPrinter(io) : undefined,
      onWarning: (warning) => io.stderr.write(`warning: ${warning.code}: ${warning.message}\n`),
    });
  } finally {
    await target.close();
    await client?.close();
  }
  if (options.json) io.stdout.write(`${JSON.stringify(stats)}\n`);
  else if (!options.progress) io.stderr.write(`copied ${formatSize(stats.bytes)} (${formatSize(stats.bytesWritten)} data) in ${(stats.durationMs / 1000).toFixed(2)} s\n`);
  return 0;
}
