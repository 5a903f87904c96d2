import type { QmpClient } from '@bp/nbd';
import { deleteBlockNode, findBitmap, runBlockJob } from './block-nodes.js';

/** The bitmap that records writes while an access exists (the access bitmap is frozen then). */
export function backgroundBitmapName(bitmapName: string): string {
  return `${bitmapName}:background`;
}

/** Options of {@link createFullyDirtyBitmap}. */
export interface NewBitmapOptions {
  node: string;
  name: string;
  size: number;
  granularity: number;
  /** Stored in the qcow2 image when it is closed (offline images only). */
  persistent: boolean;
  /** Unique prefix for the helper nodes. */
  tag: string;
}

/**
 * Creates a recording bitmap with every bit set (PVE's `new`: the provider treats everything as
 * dirty). QMP cannot set bits directly, so a backup job copies a zero-reading null node onto a
 * second null node of the same size, which dirties a helper bitmap there completely; that helper
 * is merged into the new bitmap. Nothing touches the disk's data.
 */
export async function createFullyDirtyBitmap(qmp: QmpClient, options: NewBitmapOptions): Promise<void> {
  const { node, name, size, granularity, tag } = options;
  const source = `${tag}-fill-src`;
  const sink = `${tag}-fill-dst`;
  await qmp.execute('block-dirty-bitmap-add', { node, name, granularity, persistent: options.persistent });
  try {
    await qmp.execute('blockdev-add', { driver: 'null-co', 'node-name': source, size, 'read-zeroes': true });
    try {
      await qmp.execute('blockdev-add', { driver: 'null-co', 'node-name': sink, size });
      try {
        await qmp.execute('block-dirty-bitmap-add', { node: sink, name: 'fill', granularity });
        await runBlockJob(qmp, `${tag}-fill`, () =>
          qmp.execute('blockdev-backup', { 'job-id': `${tag}-fill`, device: source, target: sink, sync: 'full' }),
        );
        await qmp.execute('block-dirty-bitmap-merge', { node, target: name, bitmaps: [{ node: sink, name: 'fill' }] });
      } finally {
        await deleteBlockNode(qmp, sink);
      }
    } finally {
      await deleteBlockNode(qmp, source);
    }
  } catch (error) {
    await qmp.execute('block-dirty-bitmap-remove', { node, name }).catch(() => undefined);
    throw error;
  }
}

/** Removes a bitmap if it exists. */
export async function removeBitmapIfPresent(qmp: QmpClient, node: string, name: string): Promise<void> {
  if (await findBitmap(qmp, node, name)) await qmp.execute('block-dirty-bitmap-remove', { node, name });
}

/** A QMP `transaction` action. */
export interface TransactionAction {
  type: string;
  data: Record<string, unknown>;
}

/**
 * Transaction actions that freeze the access bitmap at the point in time of the access and let a
 * background bitmap record the writes from then on. Put them in the same transaction as whatever
 * makes the point in time (or run them while nothing can write).
 */
export function freezeActions(node: string, name: string, granularity: number): TransactionAction[] {
  return [
    { type: 'block-dirty-bitmap-add', data: { node, name: backgroundBitmapName(name), granularity, persistent: false } },
    { type: 'block-dirty-bitmap-disable', data: { node, name } },
  ];
}

/**
 * Ends an access bitmap's freeze atomically (spec 1.2.2). Success: the bitmap becomes exactly the
 * writes since setup. Failure: those writes are added to it, so the next incremental backup also
 * covers this one's changes.
 */
export async function commitBitmap(qmp: QmpClient, node: string, name: string, success: boolean): Promise<void> {
  const background = backgroundBitmapName(name);
  const actions: TransactionAction[] = [
    ...(success ? [{ type: 'block-dirty-bitmap-clear', data: { node, name } }] : []),
    { type: 'block-dirty-bitmap-merge', data: { node, target: name, bitmaps: [background] } },
    { type: 'block-dirty-bitmap-enable', data: { node, name } },
    { type: 'block-dirty-bitmap-remove', data: { node, name: background } },
  ];
  await qmp.execute('transaction', { actions });
}
