import { REFCOUNT_BYTES } from './format.js';

/** Where the fixed metadata of a new image lives (cluster indices) and how large it is. */
export interface Qcow2Layout {
  readonly clusterSize: number;
  readonly clusterBits: number;
  readonly l1Size: number;
  readonly l1Cluster: number;
  readonly l1Clusters: number;
  readonly refcountTableCluster: number;
  readonly refcountTableClusters: number;
  /** Capacity of the refcount table in blocks. */
  readonly refcountTableEntries: number;
  readonly firstRefcountBlockCluster: number;
  /** First cluster free for L2 tables and data. */
  readonly firstFreeCluster: number;
}

/**
 * Plans a fresh image: header in cluster 0, then the refcount table (sized once for the largest
 * file this image can grow to, so it never moves), the first refcount block, the L1 table; L2
 * tables and data are appended after.
 */
export function planLayout(size: number, clusterSize: number): Qcow2Layout {
  const clusterBits = Math.log2(clusterSize);
  const entriesPerL2 = clusterSize / 8;
  const l1Size = Math.max(1, Math.ceil(size / (clusterSize * entriesPerL2)));
  const l1Clusters = Math.ceil((l1Size * 8) / clusterSize);
  const dataClusters = Math.ceil(size / clusterSize);
  const perBlock = clusterSize / REFCOUNT_BYTES;
  // Worst case: every guest cluster and every L2 table allocated, plus one refcount block per range.
  let refcountTableClusters = 1;
  let refcountTableEntries = 0;
  for (;;) {
    const fixed = 1 + refcountTableClusters + l1Clusters + l1Size + dataClusters;
    const blocks = Math.ceil(fixed / (perBlock - 1)) + 1;
    refcountTableEntries = refcountTableClusters * (clusterSize / 8);
    if (blocks <= refcountTableEntries) break;
    refcountTableClusters = Math.ceil((blocks * 8) / clusterSize);
  }
  const refcountTableCluster = 1;
  const firstRefcountBlockCluster = refcountTableCluster + refcountTableClusters;
  const l1Cluster = firstRefcountBlockCluster + 1;
  return {
    clusterSize,
    clusterBits,
    l1Size,
    l1Cluster,
    l1Clusters,
    refcountTableCluster,
    refcountTableClusters,
    refcountTableEntries,
    firstRefcountBlockCluster,
    firstFreeCluster: l1Cluster + l1Clusters,
  };
}

/**
 * True when the direct qcow2 writer can lay out an image of `size` bytes with `clusterSize`-byte
 * clusters (its fixed metadata fits the first half of the clusters it reserves); otherwise
 * {@link createQcow2Target} refuses that cluster size and a larger one is needed.
 */
export function qcow2ClusterSizeFits(size: number, clusterSize: number): boolean {
  return planLayout(size, clusterSize).firstFreeCluster <= clusterSize / 2;
}
