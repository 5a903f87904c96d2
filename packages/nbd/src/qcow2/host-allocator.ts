import { REFCOUNT_BYTES, writeUInt64 } from './format.js';

/** Where a refcount block lives: it covers host clusters `[range * perBlock, (range + 1) * perBlock)`. */
interface RefcountBlock {
  readonly range: number;
  readonly hostCluster: number;
}

/** A contiguous run of freshly allocated host clusters. */
export interface ClusterRun {
  readonly first: number;
  readonly count: number;
}

const REFCOUNT_ONE = Buffer.from([0, 1]);

/**
 * Hands out host clusters by appending to the file, and produces the refcount structures for them.
 *
 * Clusters are never freed or shared, so every cluster below the end has refcount 1: a refcount
 * block is "ones up to the end, zeroes after". The first cluster of each range a block covers is
 * taken for that block itself the moment the file grows into the range.
 */
export class HostAllocator {
  private readonly perBlock: number;
  private readonly blocks: RefcountBlock[] = [];
  private nextCluster: number;
  /** The end (in clusters) the refcount blocks on disk describe. */
  private flushedEnd = 0;

  /**
   * @param firstFree first cluster after the initial metadata
   * @param firstBlockCluster host cluster of the refcount block for range 0 (part of the initial metadata)
   * @param tableEntries capacity of the refcount table
   */
  constructor(
    private readonly clusterSize: number,
    firstFree: number,
    firstBlockCluster: number,
    private readonly tableEntries: number,
  ) {
    this.perBlock = clusterSize / REFCOUNT_BYTES;
    this.nextCluster = firstFree;
    this.blocks.push({ range: 0, hostCluster: firstBlockCluster });
  }

  /** Host clusters in use: `[0, end)`. */
  get end(): number {
    return this.nextCluster;
  }

  /** Allocates `count` clusters at the end of the file as few runs as possible. */
  allocate(count: number): ClusterRun[] {
    const runs: ClusterRun[] = [];
    let remaining = count;
    while (remaining > 0) {
      const range = Math.floor(this.nextCluster / this.perBlock);
      if (!this.blocks.some((block) => block.range === range)) {
        if (this.blocks.length >= this.tableEntries) throw new Error('qcow2 refcount table is full (image larger than planned)');
        this.blocks.push({ range, hostCluster: this.nextCluster });
        this.nextCluster++;
        continue;
      }
      const roomInRange = (range + 1) * this.perBlock - this.nextCluster;
      const take = Math.min(remaining, roomInRange);
      const last = runs[runs.length - 1];
      if (last && last.first + last.count === this.nextCluster) runs[runs.length - 1] = { first: last.first, count: last.count + take };
      else runs.push({ first: this.nextCluster, count: take });
      this.nextCluster += take;
      remaining -= take;
    }
    return runs;
  }

  /** The whole refcount table (`clusters` clusters long). */
  refcountTable(clusters: number): Buffer {
    const table = Buffer.alloc(clusters * this.clusterSize);
    for (const block of this.blocks) writeUInt64(table, block.hostCluster * this.clusterSize, block.range * 8);
    return table;
  }

  /**
   * The refcount blocks whose contents changed since the last call, as `{ position, data }`,
   * describing the current end. Call while no allocation can interleave.
   */
  changedRefcountBlocks(): { position: number; data: Buffer }[] {
    const end = this.nextCluster;
    const firstRange = Math.floor(this.flushedEnd / this.perBlock);
    const changed: { position: number; data: Buffer }[] = [];
    for (const block of this.blocks) {
      if (block.range < firstRange && this.flushedEnd > 0) continue;
      const inUse = Math.min(this.perBlock, Math.max(0, end - block.range * this.perBlock));
      const data = Buffer.alloc(this.clusterSize);
      if (inUse > 0) data.fill(REFCOUNT_ONE, 0, inUse * REFCOUNT_BYTES);
      changed.push({ position: block.hostCluster * this.clusterSize, data });
    }
    this.flushedEnd = end;
    return changed;
  }
}
