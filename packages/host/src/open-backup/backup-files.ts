import { mkdir } from 'node:fs/promises';
import { join, posix } from 'node:path';
import { BpError } from '@bp/api';
import { restoreError } from '../restore/restore-source.js';
import { openContainerView } from './container-view.js';
import { DirectoryReader } from './directory-reader.js';
import { FatReader } from './fat-reader.js';
import { pathSegments, type FileEntry, type TreeReader } from './file-entry.js';
import { mountVolume } from './mount-volume.js';
import { withNewSession, type OpenBackupCommonOptions } from './open-session.js';
import { readDiskLayout, type DiskLayout } from './partitions.js';
import { TarReader } from './tar-reader.js';
import { openVmViews, type VmDiskView } from './vm-views.js';

/** Options of {@link openBackupFiles}. */
export interface OpenBackupFilesOptions extends OpenBackupCommonOptions {
  /** The VM disk to read (`scsi0` or `drive-scsi0`); needed when the VM has several. */
  disk?: string;
}

/** One path restored by {@link BackupFiles.restorePaths}. */
export interface RestoredPath {
  path: string;
  target: string;
}

/** The files of one restore point: a VM disk's filesystems or a container's tree. */
export interface BackupFiles {
  kind: 'qemu' | 'lxc';
  /** VM: the disk read and its layout. Paths are `/part<N>/...` on a partitioned disk, `/...` on a whole-disk filesystem. */
  disk?: { virtdev: string; device: string; size: number; layout: DiskLayout };
  /** Lists a directory (or the one entry of a file). */
  list(path: string): Promise<FileEntry[]>;
  /**
   * Extracts paths into `targetDir` at their own paths (`/etc/hosts` -> `<targetDir>/etc/hosts`)
   * with owners, modes, times, xattrs and ACLs.
   */
  restorePaths(paths: readonly string[], targetDir: string): Promise<RestoredPath[]>;
  /** Unmounts and releases everything. Idempotent. */
  close(): Promise<void>;
}

/** Normalised segments of a user's path: `..` cannot climb above the root. */
function normalisedSegments(path: string): string[] {
  return pathSegments(posix.normalize(`/${path}`));
}

/** A VM disk's namespace: `/part<N>/...` or the whole-disk filesystem, each volume opened on first use. */
class DiskNamespace {
  private readonly readers = new Map<string, TreeReader>();

  constructor(
    private readonly view: VmDiskView,
    readonly layout: DiskLayout,
    private readonly workDir: string,
    private readonly signal?: AbortSignal,
  ) {}

  /** The reader and the path inside it. */
  async route(segments: readonly string[]): Promise<{ reader?: TreeReader; rest: string[] }> {
    if (this.layout.table === 'none') {
      const volume = this.layout.volumes[0];
      if (!volume) throw new BpError('BP_NOT_SUPPORTED', `disk ${this.view.virtdev} has neither a partition table nor a filesystem bp can read`);
      return { reader: await this.reader(volume.name), rest: [...segments] };
    }
    if (segments.length === 0) return { rest: [] };
    return { reader: await this.reader(segments[0]!), rest: segments.slice(1) };
  }

  private async reader(name: string): Promise<TreeReader> {
    const existing = this.readers.get(name);
    if (existing) return existing;
    const volume = this.layout.volumes.find((candidate) => candidate.name === name);
    if (!volume) {
      throw new BpError('BP_NOT_FOUND', `disk ${this.view.virtdev} has no ${name}; it has ${this.layout.volumes.map((entry) => entry.name).join(', ') || 'no readable partitions'}`);
    }
    let reader: TreeReader;
    if (volume.fsType === 'vfat') {
      reader = new FatReader(this.view.path, volume.offset);
    } else {
      const mountPoint = join(this.workDir, this.view.virtdev, volume.name);
      await mkdir(mountPoint, { recursive: true });
      await mountVolume(this.view.path, volume, mountPoint, this.signal);
      reader = new DirectoryReader(mountPoint);
    }
    this.readers.set(name, reader);
    return reader;
  }

  listPartitions(): FileEntry[] {
    return this.layout.volumes.map((volume) => ({
      name: volume.name,
      type: 'directory' as const,
      mode: 0o555,
      uid: 0,
      gid: 0,
      size: volume.size,
      mtime: new Date(0).toISOString(),
      target: volume.fsType ?? 'unknown',
    }));
  }
}

/**
 * Opens the files of a restore point through the restore path: VM disks are read from the
 * provider's validated read-only view (partitions found with sfdisk, mounted read-only on
 * offset-limited loop devices with no journal replay, FAT read in userspace); a container's
 * tar is browsed from its member headers, a directory (squashfs) read as it is.
 */
export async function openBackupFiles(options: OpenBackupFilesOptions): Promise<BackupFiles> {
  const log = options.log ?? (() => {});
  try {
    return await withNewSession(options, 'files', async (session, volname) => {
      const vmtype = await guestTypeOf(options, volname);
      let list: (segments: string[]) => Promise<FileEntry[]>;
      let extract: (segments: string[], targetDir: string) => Promise<void>;
      let disk: BackupFiles['disk'];
      if (vmtype === 'qemu') {
        const workDir = join(session.stateDir, `${session.record.id}.d`);
        await session.update((record) => {
          record.workDir = workDir;
          record.mountRoots.push(workDir);
        });
        await mkdir(workDir, { recursive: true, mode: 0o700 });
        const { disks } = await openVmViews(session, options.storage, volname, options.disk, log);
        if (disks.length > 1) {
          throw new BpError('BP_INVALID_ARGUMENT', `backup ${options.volid} has ${disks.length} disks (${disks.map((entry) => entry.virtdev).join(', ')}); choose one with --disk`);
        }
        const view = disks[0]!;
        const layout = await readDiskLayout(view.path, view.size);
        const namespace = new DiskNamespace(view, layout, workDir, options.signal);
        disk = { virtdev: view.virtdev, device: view.device, size: view.size, layout };
        list = async (segments) => {
          const { reader, rest } = await namespace.route(segments);
          return reader ? reader.list(rest, options.signal) : namespace.listPartitions();
        };
        extract = async (segments, targetDir) => {
          const { reader, rest } = await namespace.route(segments);
          if (!reader) throw new BpError('BP_INVALID_ARGUMENT', `give a path inside a partition, e.g. /${layout.volumes[0]?.name ?? 'part1'}/etc`);
          if (rest.length === 0 && segments.length > 0) {
            // A whole partition: its tree lands in <targetDir>/part<N>.
            const root = join(targetDir, segments.at(-1)!);
            await mkdir(root, { recursive: true });
            await reader.extract([], root, options.signal);
          } else {
            await reader.extract(rest, targetDir, options.signal);
          }
        };
      } else {
        const view = await openContainerView(session, options.storage, volname, log, options.signal);
        const reader: TreeReader = view.kind === 'tar' ? new TarReader(view.tarPath) : new DirectoryReader(view.directory);
        list = (segments) => reader.list(segments, options.signal);
        extract = (segments, targetDir) => reader.extract(segments, targetDir, options.signal);
      }
      return {
        kind: vmtype,
        ...(disk ? { disk } : {}),
        list: (path) => list(normalisedSegments(path)),
        async restorePaths(paths, targetDir) {
          const restored: RestoredPath[] = [];
          for (const path of paths) {
            const segments = normalisedSegments(path);
            const parent = join(targetDir, ...segments.slice(0, -1));
            await mkdir(parent, { recursive: true });
            await extract(segments, parent);
            restored.push({ path: `/${segments.join('/')}`, target: join(targetDir, ...segments) });
          }
          return restored;
        },
        close: () => session.release(),
      };
    });
  } catch (error) {
    throw restoreError(error, `opening the files of ${options.volid}`);
  }
}

/** The guest type as the provider's restore mechanism says (the volume name's type is a hint only). */
async function guestTypeOf(options: OpenBackupFilesOptions, volname: string): Promise<'qemu' | 'lxc'> {
  const result = (await options.storage.newBackupProvider(options.log ?? (() => {})).restoreGetMechanism(volname)) as { vmtype?: string };
  return result.vmtype === 'lxc' ? 'lxc' : 'qemu';
}
