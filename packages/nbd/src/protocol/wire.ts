import { BpError } from '@bp/api/errors';
import { REQUEST_HEADER_SIZE, REQUEST_MAGIC, type CommandType } from './constants.js';

const TWO_32 = 2 ** 32;

/** Writes a non-negative safe integer as a big-endian 64-bit value without BigInt arithmetic. */
export function writeU64(buffer: Buffer, value: number, at: number): void {
  buffer.writeUInt32BE(Math.floor(value / TWO_32), at);
  buffer.writeUInt32BE(value >>> 0, at + 4);
}

/**
 * Reads a big-endian 64-bit value as a JS number. Values beyond 2^53 cannot be offsets or
 * handles we issued, so they are a protocol violation.
 */
export function readU64(buffer: Buffer, at: number): number {
  const high = buffer.readUInt32BE(at);
  if (high >= 0x20_0000) {
    throw new BpError('BP_NBD_PROTOCOL', 'The NBD server sent a 64-bit value beyond 2^53; check that it is a conforming server.', {
      details: { high },
    });
  }
  return high * TWO_32 + buffer.readUInt32BE(at + 4);
}

/** Encodes one transmission request header (28 bytes). */
export function encodeRequest(type: CommandType, flags: number, handle: number, offset: number, length: number): Buffer {
  const header = Buffer.allocUnsafe(REQUEST_HEADER_SIZE);
  header.writeUInt32BE(REQUEST_MAGIC, 0);
  header.writeUInt16BE(flags, 4);
  header.writeUInt16BE(type, 6);
  writeU64(header, handle, 8);
  writeU64(header, offset, 16);
  header.writeUInt32BE(length, 24);
  return header;
}

/** Encodes a length-prefixed (32-bit) UTF-8 string. */
export function encodeString32(value: string): Buffer {
  const bytes = Buffer.from(value, 'utf8');
  const out = Buffer.allocUnsafe(4 + bytes.length);
  out.writeUInt32BE(bytes.length, 0);
  bytes.copy(out, 4);
  return out;
}
