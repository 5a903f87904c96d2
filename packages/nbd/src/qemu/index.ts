export { startQemuNbd, nbdUnixUri, type QemuNbdOptions, type QemuNbdServer } from './qemu-nbd.js';
export { QmpClient, type QmpConnectOptions, type QmpEvent, type QmpExecuteOptions, type QmpGreeting } from './qmp-client.js';
export type { QmpProcess, QmpProcessOptions } from './qmp-process.js';
export { startStorageDaemon, type StorageDaemon, type StorageDaemonOptions } from './storage-daemon.js';
export { startQemuSystem, type QemuSystem, type QemuSystemOptions } from './qemu-system.js';
export { settlesWithin } from './settles-within.js';
export { QEMU_SERVER_ENV } from './server-env.js';
export { identify, isRunning, liveProcessStat, stopProcess, type LiveProcessStat, type ProcessIdentity } from './process-identity.js';
