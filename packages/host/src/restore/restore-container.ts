import { chown, lstat, mkdir, readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { BpError, restoreContainerInitResultSchema, restoreMechanismResultSchema, type BackupProvider, type BackupStorage, type LogFunction } from '@bp/api';
import { checkIdMap, DEFAULT_ID_MAP, idMapForShift, mappedRoot, type IdMapEntry } from '../userns/index.js';
import { checkUntrustedTar, decompressionFlags, directoryTarStream, extractIntoRoot, isBrokenPipe } from './container-tar.js';
import { errorMessage, freshProvider, resolveBackupVolume, restoreError } from './restore-source.js';

/** Options of {@link restoreContainer}. */
export interface RestoreContainerOptions {
  storage: BackupStorage;
  /** `<storeid>:backup/<archive-name>`. */
  volid: string;
  /** The new container's root: created, or an existing empty directory; owned by the mapped root afterwards. */
  targetRoot: string;
  /**
   * Restore as unprivileged container (PVE `--unprivileged`). Default: as the backup was.
   * Restoring a privileged backup requires `true`; privileged restores are refused.
   */
  unprivileged?: boolean;
  /** Shorthand for an ID map 0..65535 -> uidShift.. for users and groups. */
  uidShift?: number;
  /** The container's ID map; default PVE's 0 -> 100000, 65536 IDs. Wins over `uidShift`. */
  idMap?: IdMapEntry[];
  /** KiB/s for reading the archive. */
  bwlimitKiB?: number;
  /** PVE `--ignore-unpack-errors`: extraction errors only warn. */
  ignoreUnpackErrors?: boolean;
  log?: LogFunction;
  signal?: AbortSignal;
}

/** The result of {@link restoreContainer}. */
export interface RestoredContainer {
  /** The guest config as stored (object D's `archiveGetGuestConfig`). */
  config: string;
  /** The firewall config, when the backup has a non-empty one. */
  firewallConfig?: string;
  mechanism: 'tar' | 'directory';
  idMap: IdMapEntry[];
}

/** True when a container config says `unprivileged: 1`. */
export function isUnprivilegedConfig(config: string): boolean {
  return /^unprivileged:\s*1\s*$/m.test(config);
}

async function prepareTarget(targetRoot: string, owner: { uid: number; gid: number }): Promise<{ created: boolean }> {
  let created = false;
  try {
    const info = await lstat(targetRoot);
    if (!info.isDirectory()) throw new BpError('BP_ALREADY_EXISTS', `restore target '${targetRoot}' exists and is not a directory; choose an empty directory`);
    if ((await readdir(targetRoot)).length > 0) throw new BpError('BP_ALREADY_EXISTS', `restore target '${targetRoot}' is not empty; choose an empty directory`);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    await mkdir(targetRoot, { mode: 0o755 });
    created = true;
  }
  await chown(targetRoot, owner.uid, owner.gid);
  return { created };
}

async function undoTarget(targetRoot: string, created: boolean): Promise<void> {
  if (created) {
    await rm(targetRoot, { recursive: true, force: true });
    return;
  }
  for (const entry of await readdir(targetRoot)) await rm(join(targetRoot, entry), { recursive: true, force: true });
}

/**
 * Restores a container backup as `pct restore` does with a provider (spec 1.5): object A reads
 * the config (privileged backups need `unprivileged: true`); object B: `restoreGetMechanism`
 * (vmtype `lxc`), `restoreContainerInit`, then mechanism `tar` (PVE's untrusted-archive checks) or
 * `directory` (a privileged tar of the directory), extracted with PVE's flags as root of the
 * container's user namespace (IDs shifted), and `restoreContainerCleanup` always after a
 * successful init; objects C/D for firewall and config. On failure the target is emptied again.
 */
export async function restoreContainer(options: RestoreContainerOptions): Promise<RestoredContainer> {
  const { storage, signal } = options;
  const log: LogFunction = options.log ?? (() => {});
  const { volname } = resolveBackupVolume(storage, options.volid);
  const idMap = options.idMap ?? (options.uidShift !== undefined ? idMapForShift(options.uidShift) : [...DEFAULT_ID_MAP]);
  checkIdMap(idMap);
  const root = mappedRoot(idMap);

  let backupConfig: string;
  try {
    backupConfig = await freshProvider(storage, log).archiveGetGuestConfig(volname); // object A
  } catch (error) {
    throw restoreError(error, `reading the configuration of '${options.volid}'`);
  }
  if (!(options.unprivileged ?? isUnprivilegedConfig(backupConfig))) {
    throw new BpError('BP_RESTORE_FAILED', 'refusing to restore privileged container backup from external source; restore it as unprivileged (unprivileged: true)');
  }

  const { created } = await prepareTarget(options.targetRoot, root);
  try {
    signal?.throwIfAborted();
    const mechanism = await extractWithProvider(freshProvider(storage, log), volname, idMap, options, log); // object B
    const objectC = freshProvider(storage, log);
    const config = await freshProvider(storage, log).archiveGetGuestConfig(volname); // object D
    const firewallConfig = await objectC.archiveGetFirewallConfig(volname);
    return { config, ...(firewallConfig ? { firewallConfig } : {}), mechanism, idMap };
  } catch (error) {
    await undoTarget(options.targetRoot, created).catch((undoError: unknown) => log('warn', `could not empty '${options.targetRoot}': ${errorMessage(undoError)}`));
    throw restoreError(error, `restore of '${options.volid}'`);
  }
}

async function extractWithProvider(
  provider: BackupProvider,
  volname: string,
  idMap: IdMapEntry[],
  options: RestoreContainerOptions,
  log: LogFunction,
): Promise<'tar' | 'directory'> {
  const parsed = restoreMechanismResultSchema.safeParse(await provider.restoreGetMechanism(volname));
  if (!parsed.success) throw new BpError('BP_PROVIDER_FAILED', `restoreGetMechanism for '${volname}' returned an invalid result; expected { mechanism, vmtype }`);
  const { mechanism, vmtype } = parsed.data;
  if (vmtype !== 'lxc') throw new BpError('BP_RESTORE_FAILED', `backup '${volname}' is of guest type '${vmtype}', not a container; restore it as a VM`);

  const init: unknown = await provider.restoreContainerInit(volname, {});
  let failure: unknown;
  try {
    const result = restoreContainerInitResultSchema.safeParse(init);
    if (!result.success) throw new BpError('BP_PROVIDER_FAILED', `restoreContainerInit for '${volname}' returned neither tarPath nor archiveDirectory`);
    const extract = { targetRoot: options.targetRoot, idMap, log, ...pick(options) };
    if (mechanism === 'tar' && 'tarPath' in result.data) {
      const path = result.data.tarPath;
      if (!(await lstat(path).then((s) => s.isFile(), () => false))) throw new BpError('BP_ARCHIVE_UNSAFE', `tar path '${path}' given by the provider is not a regular file`);
      await checkUntrustedTar(path, options.signal);
      await extractIntoRoot({ ...extract, input: { file: path }, decompression: decompressionFlags(path) });
    } else if (mechanism === 'directory' && 'archiveDirectory' in result.data) {
      const directory = result.data.archiveDirectory;
      if (!(await lstat(directory).then((s) => s.isDirectory(), () => false))) throw new BpError('BP_PROVIDER_FAILED', `archive directory '${directory}' given by the provider is not a directory`);
      let archived: Promise<unknown> = Promise.resolve();
      const openInput = (): Readable => {
        const source = directoryTarStream(directory, options.signal);
        archived = source.done;
        archived.catch(() => {}); // awaited below; avoid an unhandled rejection meanwhile
        return source.stream;
      };
      const [extracted] = await Promise.allSettled([extractIntoRoot({ ...extract, input: { open: openInput }, decompression: [] })]);
      if (extracted.status === 'rejected') {
        await archived; // a failing privileged tar of the directory is the first cause
        throw extracted.reason;
      }
      // After a successful extraction the archiver may only have lost its reader at the end.
      await archived.catch((error: unknown) => {
        if (!isBrokenPipe(error)) throw error;
      });
    } else {
      throw new BpError('BP_NOT_SUPPORTED', `restore mechanism '${mechanism}' with ${Object.keys(result.data).join(', ')} is not supported for containers; use tar (tarPath) or directory (archiveDirectory)`);
    }
  } catch (error) {
    failure = error;
  }
  try {
    await provider.restoreContainerCleanup(volname, {});
  } catch (error) {
    if (failure === undefined) failure = error;
    else log('warn', `restore container cleanup failed: ${errorMessage(error)}`);
  }
  if (failure !== undefined) throw failure;
  return mechanism as 'tar' | 'directory';
}

function pick(options: RestoreContainerOptions): { bwlimitKiB?: number; ignoreUnpackErrors?: boolean; signal?: AbortSignal } {
  return {
    ...(options.bwlimitKiB !== undefined ? { bwlimitKiB: options.bwlimitKiB } : {}),
    ...(options.ignoreUnpackErrors !== undefined ? { ignoreUnpackErrors: options.ignoreUnpackErrors } : {}),
    ...(options.signal ? { signal: options.signal } : {}),
  };
}
