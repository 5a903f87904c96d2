import { open, rm, type FileHandle } from 'node:fs/promises';
import { BpError } from '@bp/api/errors';
import type { CopyTarget } from '../copy/target.js';
import { ClusterLocks } from './cluster-locks.js';
import { ClusterMap } from './cluster-map.js';
import { encodeHeader } from './format.js';
import { HostAllocator } from './host-allocator.js';
import { planLayout, qcow2ClusterSizeFits, type Qcow2Layout } from './layout.js';
import { DEFAULT_CLUSTER_SIZE, invalid, validateOptions, type Qcow2TargetOptions } from './options.js';
import { pushSegment, type WriteSegment } from './segments.js';
import { alignedZeroes } from '../io/aligned-memory.js';
import { DirectWrites, type WritePathStats } from '../io/direct-writes.js';

/**
 * Creates a qcow2 v3 image and returns a {@link CopyTarget} that writes it directly, without a
 * qemu-nbd process in between: data clusters are appended in write order (adjacent clusters go out
 * as one pwritev), the L1/L2 tables and refcounts stay in memory and are written by `flush()`.
 *
 * - Without a backing file the image starts all-zero (`zeroInitialized`); with one, `writeZeroes`
 *   sets the v3 zero flag so the clusters mask the backing file.
 * - Writes need not be cluster-aligned. A partial cluster of an overlay that was not written
 *   before is completed through `readBacking`; without it that is `BP_INVALID_ARGUMENT` (align
 *   requests to the dirty-bitmap granularity). The part of the last cluster past the image end
 *   does not count.
 * - Several requests may be in flight; requests touching the same cluster are serialized.
 * - `flush()` writes the metadata and fdatasyncs; afterwards `qemu-img check` is clean.
 *   `close()` does not flush.
 * - Whole clusters in page-aligned buffers (the copy engine's) are written with O_DIRECT where the
 *   file system allows it; `writePaths` counts the bytes of each path.
 *
 * @throws BpError `BP_INVALID_ARGUMENT` for bad options, `BP_ALREADY_EXISTS` if `path` exists.
 */
export async function createQcow2Target(options: Qcow2TargetOptions): Promise<Qcow2Target> {
  const clusterSize = options.clusterSize ?? DEFAULT_CLUSTER_SIZE;
  validateOptions(options, clusterSize);
  const layout = planLayout(options.size, clusterSize);
  if (!qcow2ClusterSizeFits(options.size, clusterSize)) {
    throw invalid(`a ${String(options.size)}-byte image needs a larger cluster size than ${String(clusterSize)}`);
  }
  let file: FileHandle;
  try {
    file = await open(options.path, 'wx+', 0o600);
  } catch (error) {
    const errno = (error as NodeJS.ErrnoException).code;
    if (errno === 'EEXIST') {
      throw new BpError('BP_ALREADY_EXISTS', `${options.path} already exists; choose a new file name for the qcow2 image`, {
        details: { path: options.path },
      });
    }
    throw new BpError('BP_INVALID_ARGUMENT', `cannot create ${options.path} (${errno ?? String(error)})`, { cause: error, details: { path: options.path, errno } });
  }
  const writes = await DirectWrites.open(options.path, file);
  const writer = new Qcow2Writer(file, writes, options, layout);
  try {
    await writer.writeHeader();
    await writer.flush();
  } catch (error) {
    await writes.closeDirect().catch(() => undefined);
    await file.close().catch(() => undefined);
    await rm(options.path, { force: true });
    throw error;
  }
  return writer;
}

/** The qcow2 target: a {@link CopyTarget} that also tells how its bytes reached the file. */
export interface Qcow2Target extends CopyTarget {
  readonly writePaths: WritePathStats;
}

class Qcow2Writer implements Qcow2Target {
  readonly zeroInitialized: boolean;
  private readonly clusterSize: number;
  private readonly zeroCluster: Buffer;
  private readonly map: ClusterMap;
  private readonly allocator: HostAllocator;
  private readonly locks = new ClusterLocks();
  private readonly inFlight = new Set<Promise<unknown>>();
  private flushing: Promise<void> = Promise.resolve();
  private failure: unknown;
  private closed: Promise<void> | undefined;

  constructor(
    private readonly file: FileHandle,
    private readonly writes: DirectWrites,
    private readonly options: Qcow2TargetOptions,
    private readonly layout: Qcow2Layout,
  ) {
    this.clusterSize = layout.clusterSize;
    this.zeroCluster = alignedZeroes(layout.clusterSize);
    this.zeroInitialized = options.backingFile === undefined;
    this.map = new ClusterMap(layout.clusterSize, layout.l1Size);
    this.allocator = new HostAllocator(layout.clusterSize, layout.firstFreeCluster, layout.firstRefcountBlockCluster, layout.refcountTableEntries);
  }

  get writePaths(): WritePathStats {
    return this.writes.stats;
  }

  async writeHeader(): Promise<void> {
    const header = encodeHeader({
      clusterBits: this.layout.clusterBits,
      size: this.options.size,
      l1Size: this.layout.l1Size,
      l1Offset: this.layout.l1Cluster * this.clusterSize,
      refcountTableOffset: this.layout.refcountTableCluster * this.clusterSize,
      refcountTableClusters: this.layout.refcountTableClusters,
      backingFile: this.options.backingFile,
      backingFormat: this.options.backingFile === undefined ? undefined : (this.options.backingFormat ?? 'qcow2'),
    });
    if (header.length > this.clusterSize) throw invalid('the header and backing file name do not fit into one cluster');
    await this.writeFile([header, this.zeroCluster.subarray(header.length)], 0);
  }

  write(offset: number, data: Uint8Array): Promise<void> {
    return this.track(async () => {
      if (data.length === 0) return;
      this.checkRange(offset, data.length, 'write');
      const release = await this.lockRange(offset, data.length);
      try {
        const backing = await this.readBackingForPartialClusters(offset, offset + data.length);
        const segments = this.planWrite(offset, data, backing);
        await Promise.all(segments.map((segment) => this.writeFile(segment.buffers, segment.position)));
      } finally {
        release();
      }
    });
  }

  writeZeroes(offset: number, length: number): Promise<void> {
    return this.track(async () => {
      if (length === 0) return;
      this.checkRange(offset, length, 'writeZeroes');
      const release = await this.lockRange(offset, length);
      try {
        const backing = await this.readBackingForPartialClusters(offset, offset + length);
        const segments = this.planZeroes(offset, length, backing);
        await Promise.all(segments.map((segment) => this.writeFile(segment.buffers, segment.position)));
      } finally {
        release();
      }
    });
  }

  flush(): Promise<void> {
    const run = this.flushing.then(async () => {
      this.checkUsable();
      // Metadata must never point at data still being written.
      while (this.inFlight.size > 0) await Promise.allSettled([...this.inFlight]);
      this.checkUsable();
      const writes = [
        ...this.map.changedTables(),
        { position: this.layout.l1Cluster * this.clusterSize, data: this.map.l1Table(this.layout.l1Clusters) },
        ...this.allocator.changedRefcountBlocks(),
        { position: this.layout.refcountTableCluster * this.clusterSize, data: this.allocator.refcountTable(this.layout.refcountTableClusters) },
      ];
      try {
        await Promise.all(writes.map((write) => this.writeFile([write.data], write.position)));
        await this.file.datasync();
      } catch (error) {
        this.failure ??= error;
        throw this.ioError('flush', error);
      }
    });
    this.flushing = run.catch(() => undefined);
    return run;
  }

  close(): Promise<void> {
    this.closed ??= (async () => {
      while (this.inFlight.size > 0) await Promise.allSettled([...this.inFlight]);
      await this.flushing;
      await this.writes.closeDirect();
      await this.file.close();
    })();
    return this.closed;
  }

  /**
   * One pwritev, announced to `onFileWrite` right after it was issued (synchronously, in issue
   * order): an observer that hashes the bytes then does so while the kernel writes them.
   */
  private writeFile(buffers: Uint8Array[], position: number): Promise<void> {
    const written = this.writes.write(buffers, position);
    this.options.onFileWrite?.(position, buffers);
    return written;
  }

  /** Runs an operation, registering it synchronously so flush() and close() wait for it. */
  private track(operation: () => Promise<void>): Promise<void> {
    let promise: Promise<void>;
    try {
      this.checkUsable();
      promise = operation();
    } catch (error) {
      return Promise.reject(error);
    }
    const tracked = promise.catch((error: unknown) => {
      if (!BpError.hasCode(error, 'BP_INVALID_ARGUMENT')) this.failure ??= error;
      throw BpError.isInstance(error) ? error : this.ioError('write', error);
    });
    this.inFlight.add(tracked);
    void tracked.catch(() => undefined).finally(() => this.inFlight.delete(tracked));
    return tracked;
  }

  private checkUsable(): void {
    if (this.closed) throw invalid(`${this.options.path} is closed`);
    if (this.failure !== undefined) throw this.ioError('an earlier write', this.failure);
  }

  private ioError(what: string, error: unknown): BpError {
    if (BpError.isInstance(error)) return error;
    const errno = (error as NodeJS.ErrnoException).code;
    return new BpError('BP_BACKUP_FAILED', `qcow2 target ${this.options.path}: ${what} failed (${errno ?? String(error)})`, {
      cause: error,
      details: { path: this.options.path, errno },
    });
  }

  private checkRange(offset: number, length: number, what: string): void {
    if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || offset < 0 || length < 0 || offset + length > this.options.size) {
      throw invalid(`${what} [${String(offset)}, +${String(length)}) is outside the ${String(this.options.size)}-byte image`);
    }
  }

  private lockRange(offset: number, length: number): Promise<() => void> {
    return this.locks.acquire(Math.floor(offset / this.clusterSize), Math.floor((offset + length - 1) / this.clusterSize));
  }

  /** Guest bytes of cluster `cluster` that exist: the last cluster may end early at the image end. */
  private clusterBytes(cluster: number): number {
    return Math.min(this.clusterSize, this.options.size - cluster * this.clusterSize);
  }

  /**
   * True when `[offset, end)` covers only part of `cluster`, and the rest of it would have to come
   * from the backing file (an overlay cluster neither written nor zeroed before).
   */
  private needsBacking(cluster: number, offset: number, end: number): boolean {
    if (this.zeroInitialized) return false;
    const state = this.map.lookup(cluster);
    if (state.host > 0 || state.zero) return false;
    const start = cluster * this.clusterSize;
    return Math.min(end, start + this.clusterBytes(cluster)) - Math.max(offset, start) < this.clusterBytes(cluster);
  }

  /** Backing bytes of the (at most two) edge clusters of the request that need them. */
  private async readBackingForPartialClusters(offset: number, end: number): Promise<Map<number, Uint8Array>> {
    const backing = new Map<number, Uint8Array>();
    const read = this.options.readBacking;
    if (!read) return backing;
    for (const cluster of new Set([Math.floor(offset / this.clusterSize), Math.floor((end - 1) / this.clusterSize)])) {
      if (!this.needsBacking(cluster, offset, end)) continue;
      const length = this.clusterBytes(cluster);
      const data = await read(cluster * this.clusterSize, length);
      if (data.length !== length) throw invalid(`readBacking returned ${String(data.length)} bytes instead of ${String(length)}`);
      backing.set(cluster, data);
    }
    return backing;
  }

  /** Rejects the whole request before anything changes if a partial cluster cannot be completed. */
  private assertCompletable(what: string, offset: number, end: number, backing: Map<number, Uint8Array>): void {
    for (const cluster of new Set([Math.floor(offset / this.clusterSize), Math.floor((end - 1) / this.clusterSize)])) {
      if (this.needsBacking(cluster, offset, end) && !backing.has(cluster)) {
        throw invalid(
          `${what} [${String(offset)}, +${String(end - offset)}) covers only part of cluster ${String(cluster)} of an overlay; the rest would have to come from the backing file — align requests to ${String(this.clusterSize)} bytes or pass readBacking`,
        );
      }
    }
  }

  /** Updates the map for a write and returns the coalesced writes. */
  private planWrite(offset: number, data: Uint8Array, backing: Map<number, Uint8Array>): WriteSegment[] {
    const end = offset + data.length;
    this.assertCompletable('write', offset, end, backing);
    const first = Math.floor(offset / this.clusterSize);
    const last = Math.floor((end - 1) / this.clusterSize);
    const fresh: number[] = [];
    for (let cluster = first; cluster <= last; cluster++) if (this.map.lookup(cluster).host === 0) fresh.push(cluster);
    const hosts = this.allocateFor(fresh);

    const segments: WriteSegment[] = [];
    for (let cluster = first; cluster <= last; cluster++) {
      const start = cluster * this.clusterSize;
      const from = Math.max(offset, start);
      const to = Math.min(end, start + this.clusterSize);
      const piece = data.subarray(from - offset, to - offset);
      const state = this.map.lookup(cluster);
      if (state.host > 0 && !state.zero) {
        pushSegment(segments, state.host + (from - start), [piece]);
        continue;
      }
      // A fresh or zero-flagged cluster is written whole.
      const host = state.host > 0 ? state.host : (hosts.get(cluster) ?? 0);
      this.setEntry(cluster, { host, zero: false });
      pushSegment(segments, host, this.wholeCluster(cluster, from, to, piece, backing.get(cluster)));
    }
    return segments;
  }

  /** Updates the map for a zero range and returns the writes it still needs (partial clusters). */
  private planZeroes(offset: number, length: number, backing: Map<number, Uint8Array>): WriteSegment[] {
    const end = offset + length;
    this.assertCompletable('writeZeroes', offset, end, backing);
    const first = Math.floor(offset / this.clusterSize);
    const last = Math.floor((end - 1) / this.clusterSize);
    const hosts = this.allocateFor([...backing.keys()].sort((a, b) => a - b));
    const segments: WriteSegment[] = [];
    for (let cluster = first; cluster <= last; cluster++) {
      const state = this.map.lookup(cluster);
      if (state.zero) continue;
      const start = cluster * this.clusterSize;
      const from = Math.max(offset, start);
      const to = Math.min(end, start + this.clusterBytes(cluster));
      const around = backing.get(cluster);
      if (to - from === this.clusterBytes(cluster)) {
        // Whole cluster: the zero flag, keeping any host cluster allocated (a "preallocated" zero cluster).
        if (state.host > 0 || !this.zeroInitialized) this.setEntry(cluster, { host: state.host, zero: true });
      } else if (state.host > 0) {
        pushSegment(segments, state.host + (from - start), [this.zeroCluster.subarray(0, to - from)]);
      } else if (around) {
        const host = hosts.get(cluster) ?? 0;
        this.setEntry(cluster, { host, zero: false });
        pushSegment(segments, host, this.wholeCluster(cluster, from, to, this.zeroCluster.subarray(0, to - from), around));
      }
      // Otherwise a partial range of an unallocated cluster of a fresh image: already zeroes.
    }
    return segments;
  }

  /** A full cluster: `piece` at `[from, to)`, the rest from `around` (backing bytes) or zeroes. */
  private wholeCluster(cluster: number, from: number, to: number, piece: Uint8Array, around: Uint8Array | undefined): Uint8Array[] {
    const start = cluster * this.clusterSize;
    const fill = around ?? this.zeroCluster;
    const buffers: Uint8Array[] = [];
    if (from > start) buffers.push(fill.subarray(0, from - start));
    buffers.push(piece);
    let written = to - start;
    if (written < fill.length) {
      buffers.push(fill.subarray(written));
      written = fill.length;
    }
    if (written < this.clusterSize) buffers.push(this.zeroCluster.subarray(0, this.clusterSize - written));
    return buffers;
  }

  /** Allocates host clusters for `clusters` (ascending) plus any L2 tables they need. */
  private allocateFor(clusters: number[]): Map<number, number> {
    const hosts = new Map<number, number>();
    if (clusters.length === 0) return hosts;
    // L2 tables first, so the data clusters of one request stay contiguous.
    for (const cluster of clusters) if (this.map.needsTable(cluster)) this.addTable(cluster);
    const runs = this.allocator.allocate(clusters.length);
    let next = 0;
    for (const run of runs) {
      for (let index = 0; index < run.count; index++) {
        const cluster = clusters[next++];
        if (cluster !== undefined) hosts.set(cluster, (run.first + index) * this.clusterSize);
      }
    }
    return hosts;
  }

  private setEntry(cluster: number, state: { host: number; zero: boolean }): void {
    if (this.map.needsTable(cluster)) this.addTable(cluster);
    this.map.set(cluster, state);
  }

  private addTable(cluster: number): void {
    const [run] = this.allocator.allocate(1);
    if (!run) throw new Error('allocator returned no cluster');
    this.map.addTable(cluster, run.first * this.clusterSize);
  }
}
