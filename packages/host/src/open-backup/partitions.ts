import { BpError } from '@bp/api';
import { execa } from 'execa';

/** A filesystem location inside a disk view: a partition, or the whole disk. */
export interface DiskVolume {
  /** `part<N>` for partition N, `disk` for a filesystem on the whole disk. */
  name: string;
  /** Partition number (0 for the whole disk). */
  number: number;
  /** Byte offset and length inside the disk. */
  offset: number;
  size: number;
  /** Filesystem type as blkid reads it (`ext4`, `xfs`, `vfat`, `swap`, ...); undefined when unknown. */
  fsType?: string;
  /** Partition type (GPT type GUID or MBR type byte), when on a partition table. */
  partitionType?: string;
}

/** The layout of a disk. */
export interface DiskLayout {
  /** `gpt`, `dos` (MBR) or `none` (a whole-disk filesystem, or nothing recognised). */
  table: 'gpt' | 'dos' | 'none';
  volumes: DiskVolume[];
}

// MBR entries that only contain logical partitions.
const EXTENDED_TYPES = new Set(['5', 'f', '85']);

interface SfdiskTable {
  partitiontable?: { label?: string; sectorsize?: number; partitions?: Array<{ node: string; start: number; size: number; type: string }> };
}

/** Probes a filesystem at an offset of a file (`blkid -p`: superblock magic only, nothing is trusted). */
export async function probeFilesystem(path: string, offset: number, size: number): Promise<string | undefined> {
  const result = await execa('blkid', ['-p', '-o', 'export', '-O', String(offset), '-S', String(size), path], { reject: false, stdin: 'ignore' });
  if ((result as { code?: string }).code === 'ENOENT') throw new BpError('BP_MISSING_TOOLS', 'blkid is not installed; install util-linux');
  if (result.exitCode !== 0) return undefined;
  const fields = Object.fromEntries(String(result.stdout).split('\n').map((line) => [line.slice(0, line.indexOf('=')), line.slice(line.indexOf('=') + 1)]));
  return fields.USAGE === 'filesystem' || fields.TYPE === 'swap' ? fields.TYPE : undefined;
}

/**
 * Reads a disk's partition table (GPT or MBR, with logical partitions) with `sfdisk --json` from
 * the read-only view — no kernel partition scanning — and probes each partition's filesystem.
 * A disk without a table is one whole-disk volume. Partitions reaching outside the disk (a
 * hostile table) are left out.
 */
export async function readDiskLayout(path: string, diskSize: number): Promise<DiskLayout> {
  const result = await execa('sfdisk', ['--json', path], { reject: false, stdin: 'ignore' });
  if ((result as { code?: string }).code === 'ENOENT') throw new BpError('BP_MISSING_TOOLS', 'sfdisk is not installed; install fdisk');
  const table = result.exitCode === 0 && String(result.stdout).trim() !== '' ? (JSON.parse(String(result.stdout)) as SfdiskTable).partitiontable : undefined;
  if (!table || (table.label !== 'gpt' && table.label !== 'dos')) {
    const fsType = await probeFilesystem(path, 0, diskSize);
    return { table: 'none', volumes: fsType ? [{ name: 'disk', number: 0, offset: 0, size: diskSize, fsType }] : [] };
  }
  const sector = table.sectorsize ?? 512;
  const volumes: DiskVolume[] = [];
  for (const entry of table.partitions ?? []) {
    const number = Number(/(\d+)$/.exec(entry.node)?.[1]);
    const offset = entry.start * sector;
    const size = entry.size * sector;
    if (!Number.isInteger(number) || size <= 0 || offset + size > diskSize) continue;
    if (table.label === 'dos' && EXTENDED_TYPES.has(entry.type.toLowerCase())) continue;
    const fsType = await probeFilesystem(path, offset, size);
    volumes.push({ name: `part${number}`, number, offset, size, partitionType: entry.type, ...(fsType ? { fsType } : {}) });
  }
  return { table: table.label, volumes: volumes.sort((a, b) => a.number - b.number) };
}
