export * from './job/index.js';
export * from './restore/index.js';
export * from './userns/index.js';
export * from './vm/index.js';
export * from './open-backup/index.js';
