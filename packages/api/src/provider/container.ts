import { z } from 'zod';
import type { BackupProgressFunction } from './progress.js';

/**
 * `backupContainerPrepare` / `backupContainer`'s `$info`. Serializable: the host passes it to the
 * child process that runs `backupContainer` as the container's mapped root.
 */
export const containerBackupInfoSchema = z.object({
  /** Root of the mounted snapshot (`/mnt/vzsnap0`) or the suspend-mode copy. */
  directory: z.string().min(1),
  /** Paths relative to `directory`: `./` for the rootfs (`.` in suspend mode), `./<mp>` per mount point. */
  sources: z.array(z.string().min(1)).min(1),
  /** Host uid of the container's root (e.g. 100000); 0 for privileged containers. */
  backupUserId: z.number().int().min(0),
  /** Host gid of the container's root; defaults to backupUserId. */
  backupGroupId: z.number().int().min(0).optional(),
  /** Raw `pct.fw`, present for every container backup, possibly empty (spec H8). */
  firewallConfig: z.string(),
  /** Bytes per second; absent or 0 = unlimited. */
  bandwidthLimit: z.number().int().min(0).optional(),
});
/** Container backup info; `onProgress` (not part of the schema: a function) as in `BackupVmInfo`. */
export type ContainerBackupInfo = z.infer<typeof containerBackupInfoSchema> & { onProgress?: BackupProgressFunction };

/** PVE's standard excludes (`stdexcludes`, on by default). */
export const STANDARD_EXCLUDES: readonly string[] = Object.freeze(['/tmp/?*', '/var/tmp/?*', '/var/run/?*.pid']);
