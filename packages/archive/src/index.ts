export * from './exclusions/index.js';
