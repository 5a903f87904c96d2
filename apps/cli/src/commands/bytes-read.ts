/** What the task log told about one device. */
export interface DeviceReport {
  device: string;
  bytesRead: number;
  /** The host's `dirty-bitmap status` text ("created new", "OK (4.0 MiB of 256 MiB dirty)"). */
  bitmapStatus: string | null;
}

/**
 * Collects per-device facts from a backup's task log: the directory provider's
 * `drive-scsi0: read N bytes, ...`, the host's `drive-scsi0: dirty-bitmap status: ...` and tar's
 * `Total bytes written: N`. `total` is undefined when nothing was reported (callers then fall back
 * to the archive size).
 */
export class BytesReadCollector {
  #total: number | undefined;
  readonly #devices = new Map<string, DeviceReport>();

  #device(name: string): DeviceReport {
    let report = this.#devices.get(name);
    if (!report) {
      report = { device: name, bytesRead: 0, bitmapStatus: null };
      this.#devices.set(name, report);
    }
    return report;
  }

  /** Looks at one log line. */
  observe(message: string): void {
    const read = /^(\S+): read (\d+) bytes\b/.exec(message);
    if (read) {
      this.#device(read[1] ?? '').bytesRead += Number(read[2]);
      this.#total = (this.#total ?? 0) + Number(read[2]);
      return;
    }
    const bitmap = /^(\S+): dirty-bitmap status: (.*)$/.exec(message);
    if (bitmap) {
      this.#device(bitmap[1] ?? '').bitmapStatus = bitmap[2] ?? null;
      return;
    }
    const tar = /^Total bytes written: (\d+)/.exec(message);
    if (tar) this.#total = (this.#total ?? 0) + Number(tar[1]);
  }

  /** The dirty bytes of the devices with a reused bitmap (`OK (4.0 MiB of 256 MiB dirty)`), if all report one. */
  get dirtyBytes(): number | undefined {
    let total = 0;
    for (const device of this.#devices.values()) {
      const match = /^OK \(([\d.]+) (B|KiB|MiB|GiB|TiB) of /.exec(device.bitmapStatus ?? '');
      if (!match) return undefined;
      total += Number(match[1]) * 1024 ** ['B', 'KiB', 'MiB', 'GiB', 'TiB'].indexOf(match[2] ?? 'B');
    }
    return this.#devices.size > 0 ? Math.round(total) : undefined;
  }

  /** The sum of the reported bytes. */
  get total(): number | undefined {
    return this.#total;
  }

  /** Per-device reports in the order devices first appeared. */
  get devices(): DeviceReport[] {
    return [...this.#devices.values()];
  }
}
