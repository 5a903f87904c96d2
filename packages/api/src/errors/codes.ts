/**
 * Every stable error code bp emits, with the situation it names.
 *
 * Codes never change between major versions; messages may. Match on `error.code`, never on text.
 */
export const ERROR_CODES = {
  BP_INVALID_CONFIG: 'a configuration or option set failed validation',
  BP_INVALID_ARGUMENT: 'a call received an argument outside its contract',
  BP_INVALID_ARCHIVE_NAME: 'an archive name is outside the allowed character set or shape',
  BP_INVALID_VOLUME_ID: 'a volume ID or volume name does not follow `<storeid>:backup/<archive-name>`',
  BP_UNSUPPORTED_SPEC_VERSION: 'a provider declares a specification version this consumer does not know',
  BP_NOT_SUPPORTED: 'the provider or storage does not support the requested operation',
  BP_MISSING_TOOLS: 'a required system tool is not installed',
  BP_NOT_BUILT: 'a command of this repository runs before `npm run build` produced its dist/ files',
  BP_NOT_FOUND: 'a backup, volume, device or file does not exist',
  BP_ALREADY_EXISTS: 'the target of a create operation already exists',
  BP_PROTECTED: 'the backup is protected and cannot be removed',
  BP_PROTECTED_LIMIT: 'max-protected-backups would be exceeded',
  BP_LOCKED: 'another operation holds the lock and did not release it in time',
  BP_ABORTED: 'the operation was aborted (signal or AbortSignal)',
  BP_TIMEOUT: 'an operation did not finish within its time limit',
  BP_STORAGE_UNAVAILABLE: 'the storage path does not exist or does not answer',
  BP_BACKUP_FAILED: 'a backup step failed',
  BP_RESTORE_FAILED: 'a restore step failed',
  BP_VERIFY_FAILED: 'verification found corrupt or missing data',
  BP_CHAIN_BROKEN: 'an incremental chain is missing or has an invalid base',
  BP_UNSAFE_IMAGE: 'a disk image references files outside its backup or uses forbidden features',
  BP_ARCHIVE_FAILED: 'creating or extracting an archive failed',
  BP_ARCHIVE_UNSAFE: 'an archive contains members that would escape the target or are not allowed',
  BP_MOUNT_FAILED: 'mounting or unmounting a filesystem image failed',
  BP_NBD_PROTOCOL: 'the NBD server violated the protocol',
  BP_NBD_IO: 'the NBD server answered a request with an error',
  BP_NBD_CLOSED: 'the NBD connection closed while requests were pending',
  BP_NBD_UNSUPPORTED: 'the NBD server lacks a feature the request needs',
  BP_NBD_MODULE_MISSING: 'the kernel nbd module is not loaded',
  BP_NBD_NO_FREE_DEVICE: 'no free /dev/nbdN device could be reserved',
  BP_QEMU_FAILED: 'a QEMU process (qemu-img, qemu-nbd, qemu-storage-daemon, qemu-system) failed',
  BP_QMP_ERROR: 'a QMP command returned an error',
  BP_PROVIDER_FAILED: 'a provider method failed or returned a value outside the contract',
  BP_CONFORMANCE: 'a provider failed a conformance check',
  BP_BRIDGE_PROTOCOL: 'the PVE bridge and its Node process speak different protocol versions or broke the protocol',
  BP_BRIDGE_DIED: 'the Node process of the PVE bridge exited or became unreachable during a call',
} as const;

/** A stable bp error code. */
export type ErrorCode = keyof typeof ERROR_CODES;
