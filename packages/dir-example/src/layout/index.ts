export * from './names.js';
export * from './storage-layout.js';
