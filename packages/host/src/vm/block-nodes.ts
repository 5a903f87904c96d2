import { BpError } from '@bp/api';
import type { QmpClient } from '@bp/nbd/qemu';

/** A dirty bitmap as `query-named-block-nodes` reports it. */
export interface BitmapInfo {
  name: string;
  /** Enabled: records writes. */
  recording: boolean;
  persistent: boolean;
  busy: boolean;
  /** Set when a persistent bitmap was not stored cleanly (the image was not closed properly). */
  inconsistent?: boolean;
  granularity: number;
  /** Dirty bytes. */
  count: number;
}

interface NamedBlockNode {
  'node-name': string;
  drv: string;
  image: { 'virtual-size': number };
  'dirty-bitmaps'?: BitmapInfo[];
}

/** Looks up a block node by name (flat list, so nodes below filters are found too). */
export async function queryBlockNode(qmp: QmpClient, nodeName: string): Promise<NamedBlockNode> {
  const nodes = await qmp.execute<NamedBlockNode[]>('query-named-block-nodes', { flat: true });
  const node = nodes.find((candidate) => candidate['node-name'] === nodeName);
  if (!node) {
    throw new BpError('BP_NOT_FOUND', `QEMU has no block node named ${nodeName}; pass the node-name of the VM disk`, {
      details: { nodeName },
    });
  }
  return node;
}

/** The bitmap `name` on `nodeName`, if it exists. */
export async function findBitmap(qmp: QmpClient, nodeName: string, name: string): Promise<BitmapInfo | undefined> {
  const node = await queryBlockNode(qmp, nodeName);
  return node['dirty-bitmaps']?.find((bitmap) => bitmap.name === name);
}

/** Removes a block node; QMP errors become BP_QMP_ERROR. */
export async function deleteBlockNode(qmp: QmpClient, nodeName: string): Promise<void> {
  await qmp.execute('blockdev-del', { 'node-name': nodeName });
}
