import { lstat, readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { DeviceChain, GuestType } from '@bp/api';
import { FILES, isBackupDirName, parseName } from '../layout/index.js';
import { backingDirName } from '../restore/backing-chain.js';
import { deviceChains, readChainFile } from '../state/chain-file.js';
import { exists } from '../util/durable-fs.js';

/** A published backup found on disk. */
export interface FoundBackup {
  archiveName: string;
  dir: string;
  vmid: number;
  vmtype: GuestType;
  ctime: number;
  /** Allocated bytes of every file in the directory. */
  size: number;
  protected: boolean;
  notes?: string;
  /** Backup directory names (`<type>-<time>`) this backup's images build on. */
  bases: string[];
  /** VM backups: each device's place in its chain (`chain.json`), when recorded. */
  devices?: Record<string, DeviceChain>;
}

/** Allocated bytes of the files in a directory (what the backup occupies on disk). */
export async function directoryBytes(dir: string): Promise<number> {
  let total = 0;
  for (const name of await readdir(dir).catch(() => [] as string[])) {
    const info = await lstat(join(dir, name)).catch(() => undefined);
    if (info?.isFile()) total += info.blocks * 512;
  }
  return total;
}

/** Device images of a backup directory, sorted: device name -> file name. */
export async function deviceImages(dir: string): Promise<Map<string, string>> {
  const images = new Map<string, string>();
  for (const name of (await readdir(dir).catch(() => [] as string[])).sort()) if (name.endsWith('.qcow2')) images.set(name.slice(0, -'.qcow2'.length), name);
  return images;
}

/** Reads one published backup; undefined if `dir` is not one. */
export async function readBackup(guestDir: string, vmid: number, dirName: string): Promise<FoundBackup | undefined> {
  if (!isBackupDirName(dirName)) return undefined;
  const dir = join(guestDir, dirName);
  const info = await lstat(dir).catch(() => undefined);
  if (!info?.isDirectory()) return undefined;
  let parsed;
  try {
    parsed = parseName(`${vmid}/${dirName}`);
  } catch {
    return undefined;
  }
  const bases = new Set<string>();
  for (const image of (await deviceImages(dir)).values()) {
    const base = await backingDirName(join(dir, image)).catch(() => undefined);
    if (base) bases.add(base);
  }
  const notes = await readFile(join(dir, FILES.notes), 'utf8').catch(() => undefined);
  const devices = parsed.vmtype === 'qemu' ? deviceChains(await readChainFile(dir)) : {};
  return {
    archiveName: `${vmid}/${dirName}`,
    dir,
    vmid,
    vmtype: parsed.vmtype,
    ctime: parsed.time,
    size: await directoryBytes(dir),
    protected: await exists(join(dir, FILES.protected)),
    ...(notes === undefined ? {} : { notes }),
    bases: [...bases].sort(),
    ...(Object.keys(devices).length > 0 ? { devices } : {}),
  };
}

/** VMIDs that have a directory below `root`. */
export async function guestIds(root: string): Promise<number[]> {
  return (await readdir(root).catch(() => [] as string[])).filter((name) => /^[1-9][0-9]*$/.test(name)).map(Number);
}

/** Published backups below `root`, optionally of one guest. */
export async function scanBackups(root: string, vmid?: number): Promise<FoundBackup[]> {
  const guests = vmid === undefined ? await guestIds(root) : [vmid];
  const found: FoundBackup[] = [];
  for (const guest of guests) {
    const guestDir = join(root, String(guest));
    for (const name of await readdir(guestDir).catch(() => [] as string[])) {
      const backup = await readBackup(guestDir, guest, name);
      if (backup) found.push(backup);
    }
  }
  return found;
}
