export * from './exclusions/index.js';
export * from './tar/index.js';
export * from './squashfs/index.js';
export { checkIdMap, DEFAULT_ID_MAP, idMapForShift, mappedRoot, type IdMapEntry } from './process/id-map.js';
export { execaInUserNamespace } from './process/user-namespace.js';
export { isClosedByReader } from './stream/closed-by-reader.js';
export { normalizeSources } from './sources.js';
