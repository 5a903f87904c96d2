import { readdir, readFile, rm, statfs, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  BpError,
  formatVolumeId,
  parseVolname as parseBackupVolname,
  type BackupProvider,
  type BackupStorage,
  type BackupStoragePlugin,
  type BackupVolume,
  type LogFunction,
  type ParsedVolname,
  type PruneBackupsOptions,
  type PruneResultEntry,
  type StorageConfig,
  type StorageStatus,
  type VerifyResult,
  type VolumeAttribute,
  type VolumeSizeInfo,
} from '@bp/api';
import { execa } from 'execa';
import { FAILED_SUFFIX, FILES, parseName, ROOT_FILES, StorageLayout } from '../layout/index.js';
import { readOrCreateInstanceId } from '../state/storage-instance.js';
import { DirBackupProvider } from '../provider/dir-provider.js';
import { validateBackingChain } from '../restore/backing-chain.js';
import { withGuestLock } from '../state/guest-lock.js';
import { exists } from '../util/durable-fs.js';
import { checkManifest } from '../verify/manifest.js';
import { deviceImages, directoryBytes, scanBackups, type FoundBackup } from './backup-scan.js';
import { removeBackupMerging } from './chain-merge.js';
import { pruneDirStorage } from './prune.js';
import type { DirStorageView } from './storage-view.js';

const DEFAULT_ACTIVATE_TIMEOUT_MS = 2_000;

/** The directory storage bound to one storage ID and config. */
export class DirBackupStorage implements BackupStorage<StorageConfig>, DirStorageView {
  readonly layout: StorageLayout;

  constructor(
    readonly plugin: BackupStoragePlugin<StorageConfig>,
    readonly storeId: string,
    readonly config: StorageConfig,
  ) {
    this.layout = new StorageLayout(config.path);
  }

  /**
   * The storage instance ID (`<path>/.bp-storage-instance`): created with the first backup and
   * kept in the storage, so a storage recreated at another path, or a second setup using the
   * same storage ID, is another instance and never trusts this one's bitmaps.
   */
  async storageInstanceId(): Promise<string> {
    return readOrCreateInstanceId(join(this.config.path, ROOT_FILES.instance));
  }

  /** `<storeid>:backup/<archive-name>` */
  volid(archiveName: string): string {
    return formatVolumeId(this.storeId, archiveName);
  }

  parseVolname(volname: string): ParsedVolname {
    const { archiveName } = parseBackupVolname(volname);
    let vmid: number;
    try {
      vmid = parseName(archiveName).vmid;
    } catch (error) {
      throw new BpError('BP_INVALID_VOLUME_ID', `volume ${volname} is not a backup of this storage (expected backup/<vmid>/<type>-<time>)`, { cause: error });
    }
    return { vtype: 'backup', name: archiveName, vmid };
  }

  async path(volname: string): Promise<{ path: string; vmid: number; vtype: 'backup' }> {
    const { name, vmid } = this.parseVolname(volname);
    return { path: this.layout.backupDir(name), vmid, vtype: 'backup' };
  }

  /** The published directory of a volume; throws BP_NOT_FOUND when it does not exist. */
  async existingBackupDir(volname: string): Promise<string> {
    const { path } = await this.path(volname);
    if (!(await exists(path))) throw new BpError('BP_NOT_FOUND', `backup ${volname} does not exist on storage ${this.storeId}`, { details: { volname } });
    return path;
  }

  private toVolume(backup: FoundBackup): BackupVolume {
    const volume: BackupVolume = {
      volid: this.volid(backup.archiveName),
      vmid: backup.vmid,
      format: 'directory',
      ctime: backup.ctime,
      size: backup.size,
      subtype: backup.vmtype,
      content: 'backup',
      protected: backup.protected,
    };
    if (backup.notes !== undefined) volume.notes = backup.notes.split('\n')[0] ?? '';
    const parent = backup.bases[0];
    if (parent !== undefined) volume.parent = this.volid(`${backup.vmid}/${parent}`);
    if (backup.devices !== undefined) volume.devices = backup.devices;
    return volume;
  }

  async listVolumes(filter: { vmid?: number } = {}): Promise<BackupVolume[]> {
    const backups = await scanBackups(this.config.path, filter.vmid);
    return backups.map((backup) => this.toVolume(backup)).sort((a, b) => a.volid.toLowerCase().localeCompare(b.volid.toLowerCase()));
  }

  async volumeSizeInfo(volname: string): Promise<VolumeSizeInfo> {
    const dir = await this.existingBackupDir(volname);
    const { name } = this.parseVolname(volname);
    const size = await directoryBytes(dir);
    const volume = (await this.listVolumes({ vmid: parseName(name).vmid })).find((entry) => entry.volid === this.volid(name));
    return { size, format: 'directory', used: size, ctime: parseName(name).time, ...(volume?.parent ? { parent: volume.parent } : {}) };
  }

  async activateStorage(options: { timeoutMs?: number } = {}): Promise<void> {
    const timeout = options.timeoutMs ?? DEFAULT_ACTIVATE_TIMEOUT_MS;
    // In a child process: a hung mount blocks the child, never this process.
    const result = await execa('test', ['-d', this.config.path], { reject: false, timeout, forceKillAfterDelay: 500 }).catch((error: unknown) => ({ exitCode: 1, timedOut: false, error }));
    if (result.exitCode !== 0 || result.timedOut) {
      throw new BpError(
        'BP_STORAGE_UNAVAILABLE',
        `unable to activate storage '${this.storeId}': ${this.config.path} ${result.timedOut ? `did not answer within ${timeout} ms` : 'does not exist or is unreachable'}; check the mount`,
        { details: { path: this.config.path } },
      );
    }
  }

  async status(): Promise<StorageStatus> {
    try {
      const info = await statfs(this.config.path);
      const total = info.blocks * info.bsize;
      return { total, used: (info.blocks - info.bfree) * info.bsize, available: info.bavail * info.bsize, active: true };
    } catch {
      return { total: 0, used: 0, available: 0, active: false };
    }
  }

  async pruneBackups(keep: string | Record<string, number | boolean>, options: PruneBackupsOptions = {}): Promise<PruneResultEntry[]> {
    return pruneDirStorage(this, keep, options);
  }

  /** Logs of failed attempts of a guest (newest name last): `<type>-<time>.failed/backup.log`. */
  async failedLogs(vmid: number): Promise<string[]> {
    const guestDir = this.layout.guestDir(vmid);
    const names = (await readdir(guestDir).catch(() => [] as string[])).filter((name) => name.endsWith(FAILED_SUFFIX)).sort();
    return names.map((name) => join(guestDir, name, FILES.log));
  }

  async freeImage(volname: string): Promise<void> {
    const { name, vmid } = this.parseVolname(volname);
    await withGuestLock(this.layout.lockTarget(vmid), async () => {
      const dir = await this.existingBackupDir(volname);
      if (await exists(join(dir, FILES.protected))) {
        throw new BpError('BP_PROTECTED', `backup ${volname} is protected; remove the protection first`, { details: { volname } });
      }
      await removeBackupMerging(this.layout.guestDir(vmid), name.slice(name.indexOf('/') + 1));
    });
  }

  /** The directory holding a backup's attributes: the published one, or the one still being written. */
  private async attributeDir(volname: string): Promise<string> {
    const { name } = this.parseVolname(volname);
    const published = this.layout.backupDir(name);
    if (await exists(published)) return published;
    const partial = this.layout.partialDir(name);
    if (await exists(partial)) return partial;
    throw new BpError('BP_NOT_FOUND', `backup ${volname} does not exist on storage ${this.storeId}`, { details: { volname } });
  }

  async getVolumeAttribute(volname: string, attribute: VolumeAttribute): Promise<string | boolean | undefined> {
    const dir = await this.attributeDir(volname);
    if (attribute === 'protected') return exists(join(dir, FILES.protected));
    if (attribute === 'notes') return readFile(join(dir, FILES.notes), 'utf8').catch(() => undefined);
    return undefined;
  }

  async updateVolumeAttribute(volname: string, attribute: VolumeAttribute, value: string | boolean): Promise<void> {
    const { vmid, name } = this.parseVolname(volname);
    const dir = await this.attributeDir(volname);
    if (attribute === 'notes') {
      if (typeof value !== 'string') throw new BpError('BP_INVALID_ARGUMENT', 'notes must be a string');
      if (value === '') await rm(join(dir, FILES.notes), { force: true });
      else await writeFile(join(dir, FILES.notes), value);
      return;
    }
    if (attribute !== 'protected') throw new BpError('BP_NOT_SUPPORTED', `attribute ${String(attribute)} is not supported; use notes or protected`);
    const on = value === true || value === '1' || value === 'true';
    if (!on) {
      await rm(join(dir, FILES.protected), { force: true });
      return;
    }
    await withGuestLock(this.layout.lockTarget(vmid), async () => {
      if (await exists(join(dir, FILES.protected))) return;
      const limit = this.config['max-protected-backups'] ?? -1;
      if (limit >= 0) {
        const type = parseName(name).vmtype;
        const count = (await this.listVolumes({ vmid })).filter((volume) => volume.protected && volume.subtype === type).length;
        if (count >= limit) {
          throw new BpError('BP_PROTECTED_LIMIT', `guest ${vmid} already has ${count} protected ${type} backups (max-protected-backups ${limit}); unprotect one first`, {
            details: { vmid, limit, count },
          });
        }
      }
      await writeFile(join(dir, FILES.protected), '1\n');
    });
  }

  async verify(volname?: string): Promise<VerifyResult[]> {
    const targets = volname === undefined ? await scanBackups(this.config.path) : [(await scanBackups(this.config.path, this.parseVolname(volname).vmid)).find((b) => this.volid(b.archiveName) === this.volid(this.parseVolname(volname).name))];
    if (volname !== undefined && targets[0] === undefined) throw new BpError('BP_NOT_FOUND', `backup ${volname} does not exist on storage ${this.storeId}`);
    const results: VerifyResult[] = [];
    for (const backup of targets as FoundBackup[]) {
      const problems = await checkManifest(backup.dir);
      for (const image of (await deviceImages(backup.dir)).values()) {
        await validateBackingChain(join(backup.dir, image)).catch((error: unknown) => problems.push(`${image}: ${(error as Error).message}`));
      }
      results.push({ volid: this.volid(backup.archiveName), ok: problems.length === 0, problems });
    }
    return results;
  }

  newBackupProvider(log: LogFunction): BackupProvider {
    return new DirBackupProvider(this, log);
  }
}

/** Throws BP_VERIFY_FAILED listing every problem when any verified backup is not intact. */
export function assertVerified(results: readonly VerifyResult[]): void {
  const failed = results.filter((result) => !result.ok);
  if (failed.length === 0) return;
  throw new BpError('BP_VERIFY_FAILED', `verification failed for ${failed.map((result) => `${result.volid}: ${result.problems.join('; ')}`).join(' | ')}; restore from another backup`, {
    details: { failed: failed.map((result) => ({ volid: result.volid, problems: result.problems })) },
  });
}
