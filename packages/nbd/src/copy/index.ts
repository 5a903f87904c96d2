export type { CopyTarget } from './target.js';
export type { CopySource } from './source.js';
export {
  copyRegions,
  DEFAULT_IN_FLIGHT,
  DEFAULT_REQUEST_SIZE,
  type CopyProgress,
  type CopyRegionsOptions,
  type CopyStats,
} from './copy-regions.js';
export { createFileTarget, type FileTargetOptions } from './file-target.js';
export { createFileSource, type FileSource, type FileSourceOptions } from './file-source.js';
export { createNbdTarget, type NbdTargetOptions } from './nbd-target.js';
export { nbdSource } from './nbd-source.js';
export { isAllZero } from './zeroes.js';
export {
  fileHandleVolumeSource,
  openNbdVolumeSource,
  openVmVolumeSource,
  type VolumeSource,
  type VolumeSourceOptions,
} from './volume-source.js';
