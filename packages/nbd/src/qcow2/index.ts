export { createQcow2Target, type Qcow2TargetOptions } from './qcow2-target.js';
export { openImageReader, type ImageReader } from './image-reader.js';
