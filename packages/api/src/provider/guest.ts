import { z } from 'zod';

/** The guest types PVE backs up: `qemu` (VM) and `lxc` (container). */
export const guestTypeSchema = z.enum(['qemu', 'lxc']);
/** A guest type. */
export type GuestType = z.infer<typeof guestTypeSchema>;

/** A guest ID (PVE's VMID): an integer from 100 to 999999999. */
export const vmidSchema = z.number().int().min(100).max(999_999_999);

/** Log levels of PVE's `$log_function`. `warn` increments the task's warning counter. */
export type LogLevel = 'info' | 'warn' | 'err';

/**
 * PVE's `$log_function->($level, $message)`. During a backup job these lines reach the job's task
 * log but not the per-guest log file later handed to `backupHandleLogFile` (spec H13).
 */
export type LogFunction = (level: LogLevel, message: string) => void;
