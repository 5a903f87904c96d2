export { checkIdMap, DEFAULT_ID_MAP, idMapForShift, mappedRoot, type IdMapEntry } from './id-map.js';
export { usernsCommand, type UsernsCommand } from './userns-command.js';
