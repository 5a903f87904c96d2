import { writeTableEntry } from './format.js';

/** What a guest cluster maps to. `host` 0 = no host cluster. */
export interface ClusterState {
  readonly host: number;
  /** Reads as zeroes (v3 zero flag), whatever the host cluster or backing file holds. */
  readonly zero: boolean;
}

interface L2Table {
  /** Byte offset of the table in the file. */
  readonly position: number;
  readonly hosts: Float64Array;
  readonly zero: Uint8Array;
  dirty: boolean;
}

const UNMAPPED: ClusterState = { host: 0, zero: false };

/**
 * The guest-to-host cluster map (L1 + L2 tables), kept in memory and serialized on flush. An L2
 * table costs one cluster of file and about 1.1 cluster of memory per `clusterSize² / 8` bytes
 * of guest disk (512 MiB with 64 KiB clusters).
 */
export class ClusterMap {
  private readonly entriesPerTable: number;
  private readonly tables: (L2Table | undefined)[];

  constructor(
    private readonly clusterSize: number,
    readonly l1Size: number,
  ) {
    this.entriesPerTable = clusterSize / 8;
    this.tables = new Array<L2Table | undefined>(l1Size).fill(undefined);
  }

  lookup(guestCluster: number): ClusterState {
    const table = this.tables[Math.floor(guestCluster / this.entriesPerTable)];
    if (!table) return UNMAPPED;
    const slot = guestCluster % this.entriesPerTable;
    return { host: table.hosts[slot] ?? 0, zero: table.zero[slot] === 1 };
  }

  /** True if setting an entry for `guestCluster` needs a new L2 table first. */
  needsTable(guestCluster: number): boolean {
    return this.tables[Math.floor(guestCluster / this.entriesPerTable)] === undefined;
  }

  /** Installs the L2 table covering `guestCluster` at file position `position`. */
  addTable(guestCluster: number, position: number): void {
    this.tables[Math.floor(guestCluster / this.entriesPerTable)] = {
      position,
      hosts: new Float64Array(this.entriesPerTable),
      zero: new Uint8Array(this.entriesPerTable),
      dirty: true,
    };
  }

  /** Sets an entry; the covering table must exist ({@link needsTable}). */
  set(guestCluster: number, state: ClusterState): void {
    const table = this.tables[Math.floor(guestCluster / this.entriesPerTable)];
    if (!table) throw new Error(`no L2 table for guest cluster ${String(guestCluster)}`);
    const slot = guestCluster % this.entriesPerTable;
    table.hosts[slot] = state.host;
    table.zero[slot] = state.zero ? 1 : 0;
    table.dirty = true;
  }

  /** The L1 table, `clusters` clusters long. */
  l1Table(clusters: number): Buffer {
    const l1 = Buffer.alloc(clusters * this.clusterSize);
    this.tables.forEach((table, index) => {
      if (table) writeTableEntry(l1, index, table.position, false);
    });
    return l1;
  }

  /** Serializes the L2 tables changed since the last call. */
  changedTables(): { position: number; data: Buffer }[] {
    const changed: { position: number; data: Buffer }[] = [];
    for (const table of this.tables) {
      if (!table?.dirty) continue;
      const data = Buffer.alloc(this.clusterSize);
      for (let slot = 0; slot < this.entriesPerTable; slot++) {
        const host = table.hosts[slot] ?? 0;
        const zero = table.zero[slot] === 1;
        if (host > 0 || zero) writeTableEntry(data, slot, host, zero);
      }
      table.dirty = false;
      changed.push({ position: table.position, data });
    }
    return changed;
  }
}
