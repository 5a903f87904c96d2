export * from './errors/index.js';
export * from './provider/index.js';
export * from './rules/index.js';
export * from './storage/index.js';
export * from './define/index.js';
export * from './sizes/index.js';
