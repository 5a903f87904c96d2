export { checkIdMap, DEFAULT_ID_MAP, idMapForShift, mappedRoot, type IdMapEntry } from '@bp/archive';
