import { open } from 'node:fs/promises';
import { BpError } from '@bp/api/errors';
import { EXT_BACKING_FORMAT, EXT_DATA_FILE, EXT_ENCRYPTION, EXT_END, INCOMPAT_DATA_FILE, MAX_BACKING_NAME_BYTES, QCOW2_MAGIC } from './format.js';

/** Headers plus extensions fit in the first cluster; 64 KiB is the smallest sane bound. */
const HEADER_READ_BYTES = 65_536;

/** True when `bytes` (the start of a file) carry the qcow2 magic `QFI\xfb`. */
export function hasQcow2Magic(bytes: Uint8Array): boolean {
  return bytes.length >= 4 && Buffer.from(bytes.buffer, bytes.byteOffset, 4).readUInt32BE(0) === QCOW2_MAGIC;
}

/** What bp needs from a qcow2 header ({@link readQcow2Header}), read without letting QEMU open anything. */
export interface Qcow2Header {
  version: number;
  virtualSize: number;
  clusterBits: number;
  /** Backing file name as stored (undefined when none). */
  backingFile?: string;
  /** Backing format extension (undefined when absent). */
  backingFormat?: string;
  /** Problems that make the image unsafe to open (external data file, encryption). */
  unsafe: string[];
}

function unsafeImage(path: string, why: string): BpError {
  return new BpError('BP_UNSAFE_IMAGE', `refusing image ${path}: ${why}; only plain qcow2 images (as bp writes them) are opened`, {
    details: { path, why },
  });
}

/**
 * Reads a qcow2 header and its extensions directly (never through QEMU, which would open the
 * backing file it names): the check a restore runs before trusting a stored image.
 *
 * @throws BpError `BP_UNSAFE_IMAGE` when the file is not a well-formed qcow2 v2/v3 header.
 */
export async function readQcow2Header(path: string): Promise<Qcow2Header> {
  const handle = await open(path, 'r');
  let buffer: Buffer;
  let fileSize: number;
  try {
    fileSize = (await handle.stat()).size;
    buffer = Buffer.alloc(Math.min(HEADER_READ_BYTES, fileSize));
    await handle.read(buffer, 0, buffer.length, 0);
  } finally {
    await handle.close();
  }
  if (buffer.length < 72 || !hasQcow2Magic(buffer)) throw unsafeImage(path, 'it is not a qcow2 image');
  const version = buffer.readUInt32BE(4);
  if (version !== 2 && version !== 3) throw unsafeImage(path, `unsupported qcow2 version ${version}`);
  const backingOffset = Number(buffer.readBigUInt64BE(8));
  const backingSize = buffer.readUInt32BE(16);
  const clusterBits = buffer.readUInt32BE(20);
  const virtualSize = Number(buffer.readBigUInt64BE(24));
  const cryptMethod = buffer.readUInt32BE(32);
  const unsafe: string[] = [];
  if (cryptMethod !== 0) unsafe.push('it is encrypted');
  let extensionsStart = 72;
  if (version === 3) {
    if (buffer.length < 104) throw unsafeImage(path, 'truncated qcow2 v3 header');
    const incompatible = buffer.readBigUInt64BE(72);
    if (incompatible & INCOMPAT_DATA_FILE) unsafe.push('it uses an external data file');
    extensionsStart = buffer.readUInt32BE(100);
  }
  const header: Qcow2Header = { version, virtualSize, clusterBits, unsafe };
  if (backingOffset !== 0) {
    if (backingSize === 0 || backingSize > MAX_BACKING_NAME_BYTES || backingOffset + backingSize > buffer.length) {
      throw unsafeImage(path, 'its backing file name is malformed');
    }
    header.backingFile = buffer.subarray(backingOffset, backingOffset + backingSize).toString('utf8');
  }
  let offset = extensionsStart;
  while (offset + 8 <= buffer.length) {
    const type = buffer.readUInt32BE(offset);
    const length = buffer.readUInt32BE(offset + 4);
    if (type === EXT_END) break;
    const data = offset + 8;
    if (data + length > buffer.length) throw unsafeImage(path, 'a header extension runs past the header');
    if (type === EXT_BACKING_FORMAT) header.backingFormat = buffer.subarray(data, data + length).toString('utf8');
    if (type === EXT_DATA_FILE) unsafe.push('it names an external data file');
    if (type === EXT_ENCRYPTION) unsafe.push('it is encrypted');
    offset = data + Math.ceil(length / 8) * 8;
  }
  return header;
}
