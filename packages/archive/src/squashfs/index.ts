export { createSquashfsArchive, type CreateSquashfsOptions, type CreateSquashfsResult, type SquashfsCompression } from './create-squashfs.js';
export { extractSquashfsArchive, type ExtractSquashfsOptions } from './extract-squashfs.js';
export { mountSquashfs, withMountedSquashfs, type MountSquashfsOptions, type SquashfsMount, type SquashfsMountMethod } from './mount-squashfs.js';
