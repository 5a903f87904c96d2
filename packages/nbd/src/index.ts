export * from './client/index.js';
export * from './copy/index.js';
export * from './qemu/index.js';
export * from './qcow2/index.js';
export * from './slots/index.js';
