export * from './client/index.js';
export * from './copy/index.js';
export * from './qemu/index.js';
export * from './qcow2/index.js';
export * from './slots/index.js';
export * from './extents/index.js';
export * from './uri.js';
export { NBD_CLI_HELP, runNbdCli, type NbdCliIo, type NbdInfoJson, type NbdMapEntry } from './cli/index.js';
