import { NbdClient } from '../client/nbd-client.js';
import { blockStatusExtents } from '../extents/block-status-extents.js';
import { AllocationFlag, DIRTY_FLAG } from '../protocol/index.js';
import type { NbdCliIo } from './io.js';

/** One entry of `bp-nbd map --json` (the shape nbdinfo --map --json prints). */
export interface NbdMapEntry {
  offset: number;
  length: number;
  type: number;
  description: string;
}

function describe(context: string, flags: number): string {
  if (context.startsWith('qemu:dirty-bitmap:')) return flags & DIRTY_FLAG ? 'dirty' : 'clean';
  if (context === 'base:allocation') {
    const parts = [];
    if (flags & AllocationFlag.HOLE) parts.push('hole');
    if (flags & AllocationFlag.ZERO) parts.push('zero');
    return parts.length > 0 ? parts.join(',') : 'data';
  }
  return '';
}

/** `map URI [--context C]`: extents of one metadata context, as nbdinfo --map prints them. */
export async function mapCommand(uri: string, context: string, json: boolean, io: NbdCliIo): Promise<number> {
  await using client = await NbdClient.connect(uri, { metaContexts: [context], signal: io.signal });
  // JSON is streamed entry by entry, so memory stays flat for any number of extents.
  let count = 0;
  if (json) io.stdout.write('[');
  for await (const extent of blockStatusExtents(client, context, { signal: io.signal })) {
    const entry = { offset: extent.offset, length: extent.length, type: extent.flags, description: describe(context, extent.flags) };
    if (json) io.stdout.write(`${count++ > 0 ? ',' : ''}${JSON.stringify(entry)}`);
    else io.stdout.write(`${String(entry.offset).padStart(10)} ${String(entry.length).padStart(10)} ${String(entry.type).padStart(4)}  ${entry.description}\n`);
  }
  if (json) io.stdout.write(']\n');
  return 0;
}
