import { z } from 'zod';

/** VM backup mechanisms: `nbd` (socket + export + bitmap name) or `file-handle` (a FUSE file over the export). */
export const vmBackupMechanismSchema = z.enum(['nbd', 'file-handle']);
/** A VM backup mechanism. */
export type VmBackupMechanism = z.infer<typeof vmBackupMechanismSchema>;

/** All backup mechanisms; containers always use `directory`. */
export const backupMechanismSchema = z.enum(['nbd', 'file-handle', 'directory']);
/** A backup mechanism as returned by `backupGetMechanism`. */
export type BackupMechanism = z.infer<typeof backupMechanismSchema>;

/**
 * A provider's answer per device to `backupVmQueryIncremental`: `use` asks QEMU to keep the
 * existing bitmap, `new` to recreate it (fully dirty), `none` to drop it (qemu-server accepts
 * `none` although the docs list only `new`/`use`, spec H6).
 */
export const incrementalAnswerSchema = z.enum(['new', 'use', 'none']);
/** An answer of `backupVmQueryIncremental` for one device. */
export type IncrementalAnswer = z.infer<typeof incrementalAnswerSchema>;

/** The result of `backupVmQueryIncremental`: device name -> answer; devices left out get no bitmap. */
export const incrementalAnswersSchema = z.record(z.string().min(1), incrementalAnswerSchema).optional();
/** The result of `backupVmQueryIncremental`. */
export type IncrementalAnswers = z.infer<typeof incrementalAnswersSchema>;

/**
 * What QEMU reports per device once the snapshot access exists: `none` (no bitmap), `new`
 * (everything is dirty: treat as a full backup), `reuse` (only changes since the last
 * successful backup to this storage are dirty).
 */
export const bitmapModeSchema = z.enum(['none', 'new', 'reuse']);
/** The bitmap mode of one device. */
export type BitmapMode = z.infer<typeof bitmapModeSchema>;

/** Restore mechanisms: VMs use `qemu-img`; containers `tar` or `directory`. */
export const restoreMechanismSchema = z.enum(['qemu-img', 'tar', 'directory']);
/** A restore mechanism. */
export type RestoreMechanism = z.infer<typeof restoreMechanismSchema>;
