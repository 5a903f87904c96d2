import { z } from 'zod';
import { guestTypeSchema } from './guest.js';
import { restoreMechanismSchema } from './mechanism.js';

/** `backupInit`'s result: the archive name (volume ID becomes `<storeid>:backup/<archiveName>`). */
export const backupInitResultSchema = z.object({ archiveName: z.string().min(1) });
/** The result of `backupInit`. */
export type BackupInitResult = z.infer<typeof backupInitResultSchema>;

/** `backupCleanup`'s `$info`: the raw error message of the failed step on failure. */
export interface BackupCleanupInfo {
  error?: string;
}

/** `backupCleanup`'s result; PVE reads `stats.archive-size` (bytes) for notifications. */
export const backupCleanupResultSchema = z.object({
  stats: z.object({ archiveSize: z.number().int().min(0) }).optional(),
});
/** The result of `backupCleanup`. */
export type BackupCleanupResult = z.infer<typeof backupCleanupResultSchema>;

/** `restoreGetMechanism`'s result (PVE: a list `($mechanism, $vmtype)`). */
export const restoreMechanismResultSchema = z.object({ mechanism: restoreMechanismSchema, vmtype: guestTypeSchema });
/** The result of `restoreGetMechanism`. */
export type RestoreMechanismResult = z.infer<typeof restoreMechanismResultSchema>;

/** `restoreVmInit`'s result: device name -> virtual size in bytes. */
export const restoreVmInitResultSchema = z.record(z.string().min(1), z.object({ size: z.number().int().positive() }));
/** The result of `restoreVmInit`. */
export type RestoreVmInitResult = z.infer<typeof restoreVmInitResultSchema>;

/**
 * `restoreVmVolumeInit`'s result: a filesystem path PVE can `stat()` and read as **raw** with
 * `qemu-img convert -f raw` (not an NBD URI, spec H5; no qcow2: it would be copied verbatim).
 */
export const restoreVmVolumeInitResultSchema = z.object({ qemuImgPath: z.string().min(1) });
/** The result of `restoreVmVolumeInit`. */
export type RestoreVmVolumeInitResult = z.infer<typeof restoreVmVolumeInitResultSchema>;

/**
 * `restoreVmVolumeExport`'s result: a read-only NBD export over a Unix socket,
 * `nbd+unix:///<export>?socket=<absolute path>`, whose bytes are the device's raw guest data.
 */
export const restoreVmVolumeExportResultSchema = z.object({
  nbdUri: z
    .string()
    .regex(/^nbd\+unix:\/\/\/[^?#]*\?socket=\/[^&#]+$/, 'must be nbd+unix:///<export>?socket=<absolute path>'),
});
/** The result of `restoreVmVolumeExport`. */
export type RestoreVmVolumeExportResult = z.infer<typeof restoreVmVolumeExportResultSchema>;

/** `restoreContainerInit`'s result: `tarPath` for mechanism `tar`, `archiveDirectory` for `directory`. */
export const restoreContainerInitResultSchema = z.union([
  z.object({ tarPath: z.string().min(1) }).strict(),
  z.object({ archiveDirectory: z.string().min(1) }).strict(),
]);
/** The result of `restoreContainerInit`. */
export type RestoreContainerInitResult = z.infer<typeof restoreContainerInitResultSchema>;

/** The `$info` of the restore volume and container methods; PVE passes `{}` today. */
export type RestoreInfo = Record<string, never>;
