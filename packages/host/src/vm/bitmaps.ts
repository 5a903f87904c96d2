import { BpError } from '@bp/api';
import type { QmpClient } from '@bp/nbd/qemu';
import { execa } from 'execa';
import { deleteBlockNode, findBitmap } from './block-nodes.js';
import { deleteExport, nbdUnixUri } from './nbd-exports.js';

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
  /** Socket of the running NBD server of this QEMU. */
  nbdPath: string;
}

/** Discard request size; qemu-io takes at most 2 GiB - 512 per request. */
const FILL_REQUEST = 1024 ** 3;

/**
 * Creates a recording bitmap with every bit set (PVE's `new`: the provider treats everything as
 * dirty). QMP cannot set bits, but QEMU marks discarded ranges dirty: a helper `raw` node over a
 * `null-co` node of the disk's size (discard costs nothing there) is exported briefly and
 * discarded in 1 GiB requests, which fills a helper bitmap that is then merged into the new one.
 * The disk's data is not touched; 200 GiB take a fraction of a second.
 *
 * @throws BpError `BP_QEMU_FAILED` if the helper bitmap does not end up fully dirty.
 */
export async function createFullyDirtyBitmap(qmp: QmpClient, options: NewBitmapOptions): Promise<void> {
  const { node, name, size, granularity, tag } = options;
  const nullNode = `${tag}-fill-null`;
  const helper = `${tag}-fill`;
  await qmp.execute('block-dirty-bitmap-add', { node, name, granularity, persistent: options.persistent });
  const undo: (() => Promise<unknown>)[] = [];
  try {
    await qmp.execute('blockdev-add', { driver: 'null-co', 'node-name': nullNode, size });
    undo.push(() => deleteBlockNode(qmp, nullNode));
    await qmp.execute('blockdev-add', { driver: 'raw', 'node-name': helper, file: nullNode, discard: 'unmap' });
    undo.push(() => deleteBlockNode(qmp, helper));
    await qmp.execute('block-dirty-bitmap-add', { node: helper, name: 'fill', granularity });
    await qmp.execute('block-export-add', { type: 'nbd', id: helper, name: helper, 'node-name': helper, writable: true });
    undo.push(() => deleteExport(qmp, helper));
    await discardAll(nbdUnixUri(options.nbdPath, helper), size);
    const filled = await findBitmap(qmp, helper, 'fill');
    // `count` is whole granules, so a disk that is not a multiple of the granularity shows more.
    if (filled === undefined || filled.count < size) {
      throw new BpError('BP_QEMU_FAILED', `could not create a fully dirty bitmap for ${node} (${String(filled?.count)} of ${String(size)} bytes set)`, {
        details: { node, size },
      });
    }
    await qmp.execute('block-dirty-bitmap-merge', { node, target: name, bitmaps: [{ node: helper, name: 'fill' }] });
  } catch (error) {
    await qmp.execute('block-dirty-bitmap-remove', { node, name }).catch(() => undefined);
    throw error;
  } finally {
    for (let step = undo.pop(); step; step = undo.pop()) await step().catch(() => undefined);
  }
}

/** Discards `[0, size)` of an NBD export with qemu-io, commands on stdin. */
async function discardAll(uri: string, size: number): Promise<void> {
  const commands: string[] = [];
  for (let offset = 0; offset < size; offset += FILL_REQUEST) {
    commands.push(`discard ${String(offset)} ${String(Math.min(FILL_REQUEST, size - offset))}`);
  }
  const result = await execa('qemu-io', ['-f', 'raw', uri], { input: `${commands.join('\n')}\nquit\n`, reject: false });
  if (result.failed) {
    throw new BpError('BP_QEMU_FAILED', `qemu-io could not fill a helper bitmap: ${String(result.stderr).trim() || result.shortMessage}`, { details: { uri } });
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

/** How an access bitmap is committed at teardown. */
export interface BitmapCommit {
  node: string;
  /** The frozen access bitmap. */
  name: string;
  /**
   * On success, the bitmap continues under this name (a new generation) and `name` is removed;
   * undefined keeps the name (PVE naming).
   */
  renameTo?: string;
  granularity: number;
  persistent: boolean;
}

/**
 * Ends an access bitmap's freeze atomically (spec 1.2.2). Success: the bitmap becomes exactly the
 * writes since setup (under `renameTo` when given). Failure: those writes are added to it under
 * its old name, so the next incremental backup also covers this one's changes.
 */
export async function commitBitmap(qmp: QmpClient, commit: BitmapCommit, success: boolean): Promise<void> {
  const { node, name } = commit;
  const background = backgroundBitmapName(name);
  const removeBackground = { type: 'block-dirty-bitmap-remove', data: { node, name: background } };
  const actions: TransactionAction[] =
    success && commit.renameTo !== undefined && commit.renameTo !== name
      ? [
          { type: 'block-dirty-bitmap-add', data: { node, name: commit.renameTo, granularity: commit.granularity, persistent: commit.persistent } },
          { type: 'block-dirty-bitmap-merge', data: { node, target: commit.renameTo, bitmaps: [background] } },
          { type: 'block-dirty-bitmap-remove', data: { node, name } },
          removeBackground,
        ]
      : [
          ...(success ? [{ type: 'block-dirty-bitmap-clear', data: { node, name } }] : []),
          { type: 'block-dirty-bitmap-merge', data: { node, target: name, bitmaps: [background] } },
          { type: 'block-dirty-bitmap-enable', data: { node, name } },
          removeBackground,
        ];
  await qmp.execute('transaction', { actions });
}
