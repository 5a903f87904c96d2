import { mkdir, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { BpError, formatArchiveName, parseArchiveName, type GuestType } from '@bp/api';

/** Files of one backup directory `<path>/<vmid>/<vmtype>-<time>/`. */
export const FILES = { guestConfig: 'guest.conf', firewallConfig: 'firewall.conf', notes: 'notes', protected: 'protected' } as const;

/** While a backup is written its directory carries this suffix; listings never show it. */
export const PARTIAL = '.partial';

/**
 * Where backups live: `<path>/<vmid>/<vmtype>-<YYYY-MM-DDTHH:MM:SSZ>/` (the archive name is
 * `<vmid>/<vmtype>-<time>`), written as `<dir>.partial` and published by rename when complete.
 * Everything lives on disk: the host creates a fresh provider for every entry point.
 */
export class Layout {
  constructor(readonly path: string) {}

  dir(archiveName: string): string {
    return join(this.path, archiveName);
  }

  guestDir(vmid: number): string {
    return join(this.path, String(vmid));
  }

  /** Starts a backup: creates its partial directory and returns the archive name. */
  async begin(vmid: number, vmtype: GuestType, time: number): Promise<string> {
    const archiveName = formatArchiveName({ vmid, vmtype, time });
    if (await exists(this.dir(archiveName))) throw new BpError('BP_ALREADY_EXISTS', `a backup ${archiveName} exists already; start the next one a second later`);
    await rm(`${this.dir(archiveName)}${PARTIAL}`, { recursive: true, force: true });
    await mkdir(`${this.dir(archiveName)}${PARTIAL}`, { recursive: true });
    return archiveName;
  }

  /** The archive name of the guest's backup in progress, if any. */
  async inProgress(vmid: number, vmtype?: GuestType): Promise<string | undefined> {
    const names = await readdir(this.guestDir(vmid)).catch(() => [] as string[]);
    const partial = names.find((name) => name.endsWith(PARTIAL) && (vmtype === undefined || name.startsWith(`${vmtype}-`)));
    return partial === undefined ? undefined : `${vmid}/${partial.slice(0, -PARTIAL.length)}`;
  }

  partialDir(archiveName: string): string {
    return `${this.dir(archiveName)}${PARTIAL}`;
  }

  async publish(archiveName: string): Promise<void> {
    await rename(this.partialDir(archiveName), this.dir(archiveName));
  }

  async discard(archiveName: string): Promise<void> {
    await rm(this.partialDir(archiveName), { recursive: true, force: true });
  }

  /** Complete backups (archive names), optionally of one guest, sorted. */
  async list(vmid?: number): Promise<string[]> {
    const guests = vmid === undefined ? await readdir(this.path).catch(() => [] as string[]) : [String(vmid)];
    const names: string[] = [];
    for (const guest of guests) {
      for (const entry of await readdir(join(this.path, guest)).catch(() => [] as string[])) {
        const archiveName = `${guest}/${entry}`;
        if (!entry.endsWith(PARTIAL) && isArchiveName(archiveName)) names.push(archiveName);
      }
    }
    return names.sort();
  }

  /** The directory of a complete backup (`backup/<archive-name>`), or BP_NOT_FOUND. */
  async existing(archiveName: string): Promise<string> {
    if (!isArchiveName(archiveName) || !(await exists(this.dir(archiveName)))) {
      throw new BpError('BP_NOT_FOUND', `backup ${archiveName} does not exist; list the storage to see its backups`, { details: { archiveName } });
    }
    return this.dir(archiveName);
  }

  /** A file of a backup (complete, or `<archive-name>.partial`); undefined when it is missing. */
  async readText(archiveName: string, file: string): Promise<string | undefined> {
    // Validated first: a name like `../../etc` must never reach the file system.
    if (!isArchiveName(archiveName.endsWith(PARTIAL) ? archiveName.slice(0, -PARTIAL.length) : archiveName)) {
      throw new BpError('BP_NOT_FOUND', `backup ${archiveName} does not exist; list the storage to see its backups`, { details: { archiveName } });
    }
    return readFile(join(this.dir(archiveName), file), 'utf8').catch(() => undefined);
  }

  async writeText(dir: string, file: string, text: string): Promise<void> {
    await writeFile(join(dir, file), text);
  }
}

function isArchiveName(name: string): boolean {
  try {
    parseArchiveName(name);
    return true;
  } catch {
    return false;
  }
}

export async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}

/** Bytes of the regular files in `dir`. */
export async function directoryBytes(dir: string): Promise<number> {
  let total = 0;
  for (const entry of await readdir(dir, { withFileTypes: true })) if (entry.isFile()) total += (await stat(join(dir, entry.name))).size;
  return total;
}
