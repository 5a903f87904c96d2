export { runBackupJob } from './run-backup-job.js';
export { renderNotesTemplate, type NotesVariables } from './notes-template.js';
export { assembleContainerGuestConfig, assembleVmGuestConfig } from './guest-config.js';
export { containerExcludePatterns, containerIdMap } from './archive-container.js';
export type {
  BackupJobOptions,
  BackupPhase,
  ContainerGuestSpec,
  GuestResult,
  GuestSpec,
  JobEvent,
  JobResult,
  RunBackupJobOptions,
  VmGuestSpec,
} from './types.js';
export type { JobOpenedVm, VmAccessOpener } from './vm-access.js';
