import { readFile, rm, rmdir } from 'node:fs/promises';
import { sep } from 'node:path';
import { BpError, type BackupProvider, type BackupStorage, type LogFunction } from '@bp/api';
import { errorMessage, freshProvider } from '../restore/restore-source.js';
import { isRunning, stopProcess } from '@bp/nbd/qemu';
import { runTool } from './run-tool.js';
import { listRecords, removeRecord, type SessionRecord } from './session-record.js';

/** Mount points as the kernel lists them (octal escapes of spaces etc. decoded). */
export async function currentMountPoints(): Promise<string[]> {
  const mounts = await readFile('/proc/self/mounts', 'utf8');
  return mounts
    .split('\n')
    .filter((line) => line.length > 0)
    .map((line) => (line.split(' ')[1] ?? '').replace(/\\([0-7]{3})/g, (_match, octal: string) => String.fromCharCode(Number.parseInt(octal, 8))));
}

function isUnder(path: string, root: string): boolean {
  return path === root || path.startsWith(root.endsWith(sep) ? root : `${root}${sep}`);
}

/** Unmounts everything below `roots`, deepest first; a busy mount is detached lazily. */
export async function unmountUnder(roots: readonly string[]): Promise<void> {
  const points = (await currentMountPoints()).filter((point) => roots.some((root) => isUnder(point, root)));
  for (const point of points.sort((a, b) => b.length - a.length)) {
    await runTool('umount', [point], 'BP_MOUNT_FAILED', `unmount ${point}`).catch(() => runTool('umount', ['-l', point], 'BP_MOUNT_FAILED', `unmount ${point}`));
  }
}

/** Detaches every loop device whose backing file is one of `files` (left by a mount that was killed half-way). */
export async function detachLoopsOf(files: readonly string[]): Promise<void> {
  if (files.length === 0) return;
  const listing = await runTool('losetup', ['--json', '--list', '--output', 'NAME,BACK-FILE'], 'BP_MOUNT_FAILED', 'list loop devices').catch(() => '');
  if (listing.trim() === '') return;
  const devices = (JSON.parse(listing) as { loopdevices?: Array<{ name: string; 'back-file'?: string | null }> }).loopdevices ?? [];
  for (const device of devices) {
    const back = (device['back-file'] ?? '').replace(/ \(deleted\)$/, '');
    if (files.includes(back)) await runTool('losetup', ['--detach', device.name], 'BP_MOUNT_FAILED', `detach ${device.name}`).catch(() => undefined);
  }
}

/**
 * Releases everything a session holds, in the order that cannot hurt: mounts, loop devices,
 * helper processes, directories, then the provider's restore cleanup (`provider`, else a fresh
 * provider of `storage`). The record is removed last, so an interrupted teardown is finished
 * by the next one.
 */
export async function releaseSession(
  stateDir: string,
  record: SessionRecord,
  options: { provider?: BackupProvider; storage?: BackupStorage; log?: LogFunction },
): Promise<void> {
  const log: LogFunction = options.log ?? (() => {});
  const problems: string[] = [];
  const attempt = async (what: string, step: () => Promise<unknown>): Promise<void> => {
    try {
      await step();
    } catch (error) {
      problems.push(`${what}: ${errorMessage(error)}`);
    }
  };
  await attempt('unmount', () => unmountUnder(record.mountRoots));
  await attempt('loop devices', () => detachLoopsOf(record.viewFiles));
  for (const child of record.processes) {
    await attempt(`process ${child.pid}`, async () => {
      await stopProcess(child);
      if (child.dir) await rm(child.dir, { recursive: true, force: true });
    });
  }
  if (record.workDir !== undefined) {
    const workDir = record.workDir;
    await attempt('work directory', async () => {
      // Never recurse into a directory that still has something mounted in it.
      if ((await currentMountPoints()).some((point) => isUnder(point, workDir))) throw new Error(`${workDir} still has mounts`);
      await rm(workDir, { recursive: true, force: true });
    });
  }
  for (const dir of [...record.createdDirs].reverse()) await rmdir(dir).catch(() => undefined);
  if (record.provider) {
    const provider = options.provider ?? (options.storage ? freshProvider(options.storage, log) : undefined);
    if (!provider) problems.push(`storage '${record.storeId}' is not available to release the restore views of ${record.volname}`);
    else await attempt('provider cleanup', () => providerCleanup(provider, record));
  }
  if (problems.length > 0) {
    throw new BpError('BP_MOUNT_FAILED', `could not release everything of ${record.volname}: ${problems.join('; ')}; run the command again`, { details: { session: record.id } });
  }
  await removeRecord(stateDir, record.id);
}

async function providerCleanup(provider: BackupProvider, record: SessionRecord): Promise<void> {
  if (!record.provider) return;
  if (record.provider.vmtype === 'lxc') {
    await provider.restoreContainerCleanup(record.volname, {});
    return;
  }
  for (const device of record.provider.devices) await provider.restoreVmVolumeCleanup(record.volname, device, {});
  await provider.restoreVmCleanup(record.volname);
}

/** Opens a storage by id for the cleanup of a stale session (undefined: not configured here). */
export type StorageOpener = (storeId: string) => Promise<BackupStorage | undefined>;

/**
 * Finds sessions whose process was killed (not detached `bp mount` sessions) and releases them.
 * Returns the released records. Failures only warn: the next command tries again.
 */
export async function cleanupStaleSessions(stateDir: string, openStorage: StorageOpener, log: LogFunction = () => {}): Promise<SessionRecord[]> {
  const released: SessionRecord[] = [];
  for (const record of await listRecords(stateDir)) {
    if (record.detached || (await isRunning(record.owner))) continue;
    try {
      const storage = await openStorage(record.storeId).catch(() => undefined);
      await releaseSession(stateDir, record, { log, ...(storage ? { storage } : {}) });
      log('info', `released what an interrupted ${record.kind} of ${record.volname} (process ${record.owner.pid}) left behind`);
      released.push(record);
    } catch (error) {
      log('warn', errorMessage(error));
    }
  }
  return released;
}
