export { createQcow2Target, type Qcow2Target } from './qcow2-target.js';
export type { Qcow2TargetOptions } from './options.js';
export { openImageReader, type ImageReader } from './image-reader.js';
export { hasQcow2Magic, readQcow2Header, type Qcow2Header } from './header-reader.js';
export { qcow2ClusterSizeFits } from './layout.js';
