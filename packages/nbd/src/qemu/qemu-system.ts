import { startQmpProcess, type QmpProcess, type QmpProcessOptions } from './qmp-process.js';

/** Options for {@link startQemuSystem}: extra arguments (e.g. `-blockdev`) in `args`. */
export type QemuSystemOptions = QmpProcessOptions;

/** A running guest-less `qemu-system-x86_64` with a QMP monitor. */
export type QemuSystem = QmpProcess;

/**
 * Starts `qemu-system-x86_64 -machine none -nodefaults -display none` with a QMP monitor on a Unix
 * socket in a private temp dir: a live QEMU block layer driven over QMP, without a guest. Used to
 * test what a running VM does (bitmaps, exports, backup jobs).
 *
 * @throws BpError `BP_QEMU_FAILED` (with stderr) if QEMU exits during start-up, `BP_TIMEOUT`, `BP_ABORTED`.
 */
export function startQemuSystem(options: QemuSystemOptions = {}): Promise<QemuSystem> {
  return startQmpProcess(
    'qemu-system-x86_64',
    (qmpSocket) => [
      '-machine',
      'none',
      '-nodefaults',
      '-display',
      'none',
      '-serial',
      'none',
      '-monitor',
      'none',
      '-qmp',
      `unix:${qmpSocket},server=on,wait=off`,
    ],
    options,
  );
}
