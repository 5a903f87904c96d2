export { NbdClient } from './nbd-client.js';
export type { NbdCapabilities, NbdConnectOptions, NbdTarget, WriteZeroesOptions } from './nbd-client.js';
export type { BlockSize, NbdExportInfo, NbdExportListing } from './handshake.js';
export type { Extent } from './pending-request.js';
