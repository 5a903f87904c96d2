export * from './errors/index.js';
export * from './rules/index.js';
