export * from './client/index.js';
export * from './copy/index.js';
export * from './qemu/index.js';
export * from './qcow2/index.js';
export * from './slots/index.js';
export * from './extents/index.js';
export * from './uri.js';
export { runNbdCli, type NbdCliIo } from './cli/index.js';
