import { BpError } from '@bp/api/errors';
import type { NbdClient } from '../client/nbd-client.js';
import type { Extent } from '../client/pending-request.js';
import { protocolError } from '../client/errors.js';

/** Options of {@link blockStatusExtents}. */
export interface BlockStatusOptions {
  /** Start of the range to describe (default 0). */
  offset?: number;
  /** Length of the range (default: to the end of the export). */
  length?: number;
  /** Bytes asked per BLOCK_STATUS request (default 1 GiB; the server may answer less). */
  requestLength?: number;
  signal?: AbortSignal;
}

/**
 * Pages through `[offset, offset + length)` with bounded BLOCK_STATUS requests and yields the
 * extents of one metadata `context`, adjacent extents with equal flags merged.
 */
export async function* blockStatusExtents(client: NbdClient, context: string, options: BlockStatusOptions = {}): AsyncGenerator<Extent> {
  if (!client.metaContexts.includes(context)) {
    throw new BpError('BP_NBD_UNSUPPORTED', `The NBD export "${client.exportName}" does not offer metadata context "${context}"; connect with metaContexts: ["${context}"] and check that the server exports it.`);
  }
  const start = options.offset ?? 0;
  const end = options.length === undefined ? client.size : start + options.length;
  const step = options.requestLength ?? 1024 * 1024 * 1024;
  let pending: Extent | undefined;
  for (let cursor = start; cursor < end; ) {
    options.signal?.throwIfAborted();
    const reply = await client.blockStatus(cursor, Math.min(step, end - cursor));
    const extents = reply.get(context);
    if (!extents || extents.length === 0) throw protocolError(`block-status reply without context ${context}`);
    for (const extent of extents) {
      if (pending && pending.flags === extent.flags && pending.offset + pending.length === extent.offset) {
        pending.length += extent.length;
        continue;
      }
      if (pending) yield pending;
      pending = { ...extent };
    }
    const last = extents[extents.length - 1]!;
    cursor = last.offset + last.length;
  }
  if (pending) yield pending;
}
