/**
 * `@bp/nbd/qemu`: QEMU processes (qemu-nbd, qemu-storage-daemon, qemu-system), the QMP client and
 * the kernel `/dev/nbdN` slot allocator.
 */
export * from './qemu/index.js';
export * from './slots/index.js';
