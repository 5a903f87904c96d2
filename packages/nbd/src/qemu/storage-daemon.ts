import { startQmpProcess, type QmpProcess, type QmpProcessOptions } from './qmp-process.js';

/** Options for {@link startStorageDaemon}: extra `--blockdev`/`--nbd-server`/`--export` args in `args`. */
export type StorageDaemonOptions = QmpProcessOptions;

/** A running `qemu-storage-daemon` with a QMP monitor. */
export type StorageDaemon = QmpProcess;

/**
 * Starts `qemu-storage-daemon` with a QMP monitor on a Unix socket in a private temp dir and
 * resolves once QMP is connected and negotiated.
 *
 * @throws BpError `BP_QEMU_FAILED` (with stderr) if the daemon exits during start-up, `BP_TIMEOUT`, `BP_ABORTED`.
 */
export function startStorageDaemon(options: StorageDaemonOptions = {}): Promise<StorageDaemon> {
  return startQmpProcess(
    'qemu-storage-daemon',
    (qmpSocket) => ['--chardev', `socket,id=bp-qmp,path=${qmpSocket},server=on,wait=off`, '--monitor', 'chardev=bp-qmp'],
    options,
  );
}
