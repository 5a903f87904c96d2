export { dirExamplePlugin } from './plugin.js';
export { DirBackupStorage, assertVerified } from './storage/dir-storage.js';
export { DirBackupProvider, PROVIDER_NAME } from './provider/dir-provider.js';
export { StorageLayout } from './layout/index.js';
export { validateBackingChain, MAX_CHAIN_DEPTH, type ChainLayer } from './restore/backing-chain.js';
export { checkManifest, MANIFEST_BLOCK_SIZE, type Manifest, type ManifestFile } from './verify/manifest.js';
