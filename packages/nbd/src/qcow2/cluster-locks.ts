/**
 * Per-cluster exclusion for concurrent writes: two requests touching the same guest cluster run
 * one after the other (a partial write to a fresh cluster pads the rest with zeroes, which must
 * not land after a neighbour's data). Requests on disjoint clusters never wait.
 */
export class ClusterLocks {
  private readonly held = new Map<number, Promise<void>>();

  /** Waits until `[first, last]` is free, takes it, and returns the release function. */
  async acquire(first: number, last: number): Promise<() => void> {
    for (;;) {
      const busy = new Set<Promise<void>>();
      for (let cluster = first; cluster <= last; cluster++) {
        const pending = this.held.get(cluster);
        if (pending) busy.add(pending);
      }
      if (busy.size === 0) break;
      await Promise.all(busy);
    }
    let release!: () => void;
    const done = new Promise<void>((resolve) => {
      release = resolve;
    });
    for (let cluster = first; cluster <= last; cluster++) this.held.set(cluster, done);
    return () => {
      for (let cluster = first; cluster <= last; cluster++) if (this.held.get(cluster) === done) this.held.delete(cluster);
      release();
    };
  }
}
