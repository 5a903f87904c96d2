/**
 * Page-aligned buffers for O_DIRECT writes.
 *
 * JavaScript cannot ask where a Buffer lives, and ordinary Buffers are only 16-byte aligned, so
 * O_DIRECT refuses them (EINVAL). A WebAssembly memory is mapped by whole pages, so every view that
 * starts at a multiple of {@link DIRECT_IO_ALIGNMENT} into it is aligned. The memories handed out
 * here are remembered, so a writer can tell whether a buffer may go the direct way.
 */

/** Alignment of address, length and file offset that O_DIRECT needs on every Linux block device. */
export const DIRECT_IO_ALIGNMENT = 4096;

const WASM_PAGE = 64 * 1024;

// Node has WebAssembly; the project's TypeScript libs do not describe it.
declare const WebAssembly: { Memory: new (descriptor: { initial: number; maximum?: number }) => { readonly buffer: ArrayBuffer } };
const alignedMemories = new WeakSet<ArrayBufferLike>();

/** `count` zero-filled buffers of `size` bytes each, page-aligned, in one mapping. */
export function allocateAligned(count: number, size: number): Buffer[] {
  const stride = Math.ceil(size / DIRECT_IO_ALIGNMENT) * DIRECT_IO_ALIGNMENT;
  const pages = Math.max(1, Math.ceil((stride * count) / WASM_PAGE));
  const memory = new WebAssembly.Memory({ initial: pages, maximum: pages });
  alignedMemories.add(memory.buffer);
  return Array.from({ length: count }, (_, index) => Buffer.from(memory.buffer, index * stride, size));
}

/** True when `buffer` may be written with O_DIRECT: aligned start and a whole number of blocks. */
export function isDirectIoReady(buffer: Uint8Array): boolean {
  return alignedMemories.has(buffer.buffer) && buffer.byteOffset % DIRECT_IO_ALIGNMENT === 0 && buffer.byteLength % DIRECT_IO_ALIGNMENT === 0;
}

let zeroes: Buffer | undefined;

/**
 * A shared, page-aligned, all-zero buffer of `size` bytes. Callers must never write into it.
 * Grows (once per larger size) instead of allocating a mapping per caller.
 */
export function alignedZeroes(size: number): Buffer {
  if (!zeroes || zeroes.length < size) [zeroes] = allocateAligned(1, Math.max(size, 2 * 1024 * 1024)) as [Buffer];
  return zeroes.subarray(0, size);
}
