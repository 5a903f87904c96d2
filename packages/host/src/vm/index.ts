export { deviceNameFor, bitmapNameFor } from './device-name.js';
export { openVm } from './open-vm.js';
export { parseDirtyMapLine } from './file-handle/dirty-regions.js';
export type { LiveDiskSpec, OpenedVm, OpenVmOptions, SetupAccessOptions, SnapshotAccess, VmDiskSpec, VmSource, WriteTarget } from './types.js';
