/**
 * `@bp/nbd`: the NBD client, extent maps and the copy engine. QEMU processes and `/dev/nbdN`
 * slots are `@bp/nbd/qemu`, the qcow2 writer and reader `@bp/nbd/qcow2`, the CLI `@bp/nbd/cli`.
 */
export * from './client/index.js';
export * from './copy/index.js';
export * from './extents/index.js';
export * from './uri.js';
