/**
 * `@bp/api/testing`: a complete in-memory storage plugin and provider, built with
 * `defineStoragePlugin` / `defineProvider`, for tests of hosts and as a template for providers.
 */
export { createMemoryPlugin, MEMORY_SUPPORTS, memoryConfigSchema, memoryPlugin, type MemoryConfig, type MemoryPluginOptions } from './memory-plugin.js';
