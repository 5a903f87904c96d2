export * from './constants.js';
export { ByteQueue } from './byte-queue.js';
export { encodeRequest, encodeString32, readU64, writeU64 } from './wire.js';
