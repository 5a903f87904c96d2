import { parseVolumeId, type BackupStorage, type LogFunction } from '@bp/api';
import { DEFAULT_ID_MAP, mappedRoot, restoreContainer, restoreVm, type IdMapEntry, type RestoredContainer, type RestoredVm } from '@bp/host';
import { assertReachableBy } from '../commands/reachable-by.js';

/** A VM restore as the CLI asks for it. */
export interface VmRestoreRequest {
  storage: BackupStorage;
  volid: string;
  targetDir: string;
  format: 'qcow2' | 'raw';
  /** KiB/s for `qemu-img convert`; absent = unlimited. */
  bwlimitKiB?: number;
  log: LogFunction;
  onProgress?: (device: string, percent: number) => void;
  signal: AbortSignal;
}

/** A container restore as the CLI asks for it. */
export interface ContainerRestoreRequest {
  storage: BackupStorage;
  volid: string;
  targetDir: string;
  /** Host ID ranges of the restored tree; default: the backup's `lxc.idmap`, else PVE's 0 -> 100000. */
  idMap?: IdMapEntry[];
  /** KiB/s for reading the archive; absent = unlimited. */
  bwlimitKiB?: number;
  log: LogFunction;
  signal: AbortSignal;
}

/**
 * @bp/host's `restoreVm`: one image per device in `targetDir`, created images removed on failure.
 * bp is the host here, so it reads a provider's NBD export where one is offered.
 */
export function hostRestoreVm(request: VmRestoreRequest): Promise<RestoredVm> {
  return restoreVm({ ...request, standalone: true });
}

/**
 * @bp/host's `restoreContainer` into `targetDir`, always as an unprivileged tree (as PVE restores
 * external backups): owners are shifted by the ID map.
 */
export async function hostRestoreContainer(request: ContainerRestoreRequest): Promise<RestoredContainer> {
  const { targetDir, idMap, ...rest } = request;
  const volname = parseVolumeId(request.volid).volname;
  const map = idMap ?? idMapFromConfig(await request.storage.newBackupProvider(request.log).archiveGetGuestConfig(volname));
  const root = mappedRoot(map ?? DEFAULT_ID_MAP);
  await assertReachableBy(targetDir, root.uid, root.gid);
  return restoreContainer({ ...rest, targetRoot: targetDir, unprivileged: true, ...(map ? { idMap: map } : {}) });
}

/** The `lxc.idmap: u 0 100000 65536` lines of a container config, if any. */
export function idMapFromConfig(config: string): IdMapEntry[] | undefined {
  const entries: IdMapEntry[] = [];
  for (const match of config.matchAll(/^lxc\.idmap:\s*([ug])\s+(\d+)\s+(\d+)\s+(\d+)\s*$/gm)) {
    entries.push({ type: match[1] as 'u' | 'g', inner: Number(match[2]), outer: Number(match[3]), count: Number(match[4]) });
  }
  return entries.length > 0 ? entries : undefined;
}
