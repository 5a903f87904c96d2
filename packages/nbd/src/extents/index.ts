export type { Region } from './region.js';
export { blockStatusExtents, type BlockStatusOptions } from './block-status-extents.js';
export { allocatedRegions, dataBytes, dirtyBitmapContext, dirtyRegions, wholeRegion } from './regions.js';
