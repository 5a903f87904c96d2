import { BpError } from './bp-error.js';
import type { ErrorCode } from './codes.js';

/** The Debian 12 package of each system tool bp drives (for the `BP_MISSING_TOOLS` hint). */
const DEBIAN_PACKAGE_OF: Readonly<Record<string, string>> = {
  'qemu-img': 'qemu-utils',
  'qemu-nbd': 'qemu-utils',
  'qemu-io': 'qemu-utils',
  'qemu-storage-daemon': 'qemu-system-common',
  'qemu-system-x86_64': 'qemu-system-x86',
  nbdinfo: 'libnbd-bin',
  nbdfuse: 'libnbd-bin',
  nbdcopy: 'libnbd-bin',
  nbdkit: 'nbdkit',
  mksquashfs: 'squashfs-tools',
  unsquashfs: 'squashfs-tools',
  squashfuse: 'squashfuse',
  squashfuse_ll: 'squashfuse',
  fusermount3: 'fuse3',
  tar: 'tar',
  zstd: 'zstd',
  gzip: 'gzip',
  getfacl: 'acl',
  setfacl: 'acl',
  flock: 'util-linux',
  blkid: 'util-linux',
  unshare: 'util-linux',
  sfdisk: 'fdisk',
  mount: 'mount',
  umount: 'mount',
  losetup: 'mount',
  mdir: 'mtools',
  mcopy: 'mtools',
};

/** Options of {@link toolError}. */
export interface ToolErrorOptions {
  /** The code of a failed run (exit status, signal, bad output). */
  code: ErrorCode;
  /** The command that ran (`tar`, `qemu-img`). */
  tool: string;
  /** What the run was for, as the start of a sentence: "Creating the tar archive", "mounting /mnt/x". */
  what: string;
  /** The tool's stderr (or its tail); default the `stderr` the error carries (execa's). */
  stderr?: string;
  /** More facts for `details` (the arguments, a path). */
  details?: Record<string, unknown>;
}

/**
 * bp's one mapping from a failed tool run (an execa error, or any error) to a BpError: a BpError
 * passes through; a run cancelled by its signal is `BP_ABORTED`; a binary that is not installed
 * is `BP_MISSING_TOOLS` naming its Debian package; anything else is `options.code` with the
 * tool's stderr in the message and `details` (`tool`, `exitCode`, `stderr`).
 */
export function toolError(error: unknown, options: ToolErrorOptions): BpError {
  if (BpError.isInstance(error)) return error;
  const { tool, what } = options;
  const failure = (error ?? {}) as { code?: unknown; exitCode?: unknown; stderr?: unknown; isCanceled?: unknown };
  const stderr = options.stderr ?? (typeof failure.stderr === 'string' ? failure.stderr.trim() : '');
  if (failure.isCanceled === true) return new BpError('BP_ABORTED', `${what} was aborted.`, { cause: error, details: { tool } });
  if (failure.code === 'ENOENT' && stderr === '') {
    const hint = DEBIAN_PACKAGE_OF[tool] ? `install the Debian package ${DEBIAN_PACKAGE_OF[tool]} (npm run bootstrap installs every tool bp needs)` : 'install it';
    return new BpError('BP_MISSING_TOOLS', `${tool} is not installed; ${hint}.`, { cause: error, details: { tool } });
  }
  const exitCode = typeof failure.exitCode === 'number' ? failure.exitCode : undefined;
  const reason = stderr || (error instanceof Error ? error.message : String(error));
  return new BpError(options.code, `${what} failed (${tool}${exitCode === undefined ? '' : ` exit ${exitCode}`}): ${reason}`, {
    cause: error,
    details: { ...options.details, tool, exitCode, stderr },
  });
}
