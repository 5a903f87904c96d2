export { CONTAINER_PROVIDER_METHODS, defineProvider, VM_PROVIDER_METHODS, type ProviderDefinition } from './define-provider.js';
export { defineStoragePlugin, type StorageDefinition, type StoragePluginDefinition } from './define-storage-plugin.js';
export { notSupported } from './not-supported.js';
