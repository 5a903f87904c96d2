/**
 * qcow2 v3 on-disk constants and header encoding (QEMU docs/interop/qcow2.txt). Only what a
 * fresh image or overlay written front to back needs: no snapshots, no encryption, no compression,
 * no extended L2 entries, 16-bit refcounts.
 */

export const QCOW2_MAGIC = 0x514649fb;
export const QCOW2_VERSION = 3;
/** The v3 header without optional fields. */
export const HEADER_LENGTH = 104;
/** 16-bit refcounts (refcount_order 4), QEMU's default. */
export const REFCOUNT_ORDER = 4;
export const REFCOUNT_BYTES = 2;
/** Header extension: backing file format name. */
export const EXT_BACKING_FORMAT = 0xe2792aca;
/** Header extension: external data file name (bp never writes one; a restore refuses it). */
export const EXT_DATA_FILE = 0x44415441;
/** Header extension: full disk encryption (bp never writes one; a restore refuses it). */
export const EXT_ENCRYPTION = 0x0537be77;
/** End of the header extensions. */
export const EXT_END = 0;
/** Incompatible feature bit: the data lives in an external data file. */
export const INCOMPAT_DATA_FILE = 1n << 2n;

/** L1/L2 entry flag: the cluster is referenced exactly once (may be written in place). */
export const FLAG_COPIED_HIGH = 0x80000000;
/** L2 entry flag (v3): the cluster reads as zeroes, masking a backing file. */
export const FLAG_ZERO_LOW = 0x1;

/** QEMU refuses backing file names longer than this. */
export const MAX_BACKING_NAME_BYTES = 1023;

/** Fields of the header that vary between images. */
export interface HeaderFields {
  readonly clusterBits: number;
  readonly size: number;
  readonly l1Size: number;
  readonly l1Offset: number;
  readonly refcountTableOffset: number;
  readonly refcountTableClusters: number;
  readonly backingFile?: string | undefined;
  readonly backingFormat?: string | undefined;
}

/** Encodes the header, its extensions and the backing file name; the result fits the first cluster. */
export function encodeHeader(fields: HeaderFields): Buffer {
  const extensions: Buffer[] = [];
  if (fields.backingFormat) extensions.push(encodeExtension(EXT_BACKING_FORMAT, Buffer.from(fields.backingFormat, 'utf8')));
  extensions.push(encodeExtension(EXT_END, Buffer.alloc(0)));
  const extensionBytes = Buffer.concat(extensions);
  const backingName = fields.backingFile ? Buffer.from(fields.backingFile, 'utf8') : Buffer.alloc(0);
  const backingOffset = backingName.length > 0 ? HEADER_LENGTH + extensionBytes.length : 0;

  const header = Buffer.alloc(HEADER_LENGTH);
  header.writeUInt32BE(QCOW2_MAGIC, 0);
  header.writeUInt32BE(QCOW2_VERSION, 4);
  writeUInt64(header, backingOffset, 8);
  header.writeUInt32BE(backingName.length, 16);
  header.writeUInt32BE(fields.clusterBits, 20);
  writeUInt64(header, fields.size, 24);
  header.writeUInt32BE(0, 32); // no encryption
  header.writeUInt32BE(fields.l1Size, 36);
  writeUInt64(header, fields.l1Offset, 40);
  writeUInt64(header, fields.refcountTableOffset, 48);
  header.writeUInt32BE(fields.refcountTableClusters, 56);
  header.writeUInt32BE(0, 60); // no snapshots
  writeUInt64(header, 0, 64);
  writeUInt64(header, 0, 72); // incompatible features
  writeUInt64(header, 0, 80); // compatible features
  writeUInt64(header, 0, 88); // autoclear features
  header.writeUInt32BE(REFCOUNT_ORDER, 96);
  header.writeUInt32BE(HEADER_LENGTH, 100);
  return Buffer.concat([header, extensionBytes, backingName]);
}

function encodeExtension(type: number, data: Buffer): Buffer {
  const padded = Math.ceil(data.length / 8) * 8;
  const out = Buffer.alloc(8 + padded);
  out.writeUInt32BE(type, 0);
  out.writeUInt32BE(data.length, 4);
  data.copy(out, 8);
  return out;
}

/** Writes a non-negative safe integer as a big-endian 64-bit value. */
export function writeUInt64(buffer: Buffer, value: number, offset: number): void {
  buffer.writeUInt32BE(Math.floor(value / 0x1_0000_0000), offset);
  buffer.writeUInt32BE(value % 0x1_0000_0000, offset + 4);
}

/** Encodes an L1 or L2 entry for a host offset (0 = none) with the COPIED flag and optional zero flag. */
export function writeTableEntry(buffer: Buffer, index: number, hostOffset: number, zero: boolean): void {
  const at = index * 8;
  const high = Math.floor(hostOffset / 0x1_0000_0000);
  const low = hostOffset % 0x1_0000_0000;
  buffer.writeUInt32BE(hostOffset > 0 ? (high | FLAG_COPIED_HIGH) >>> 0 : 0, at);
  buffer.writeUInt32BE((low | (zero ? FLAG_ZERO_LOW : 0)) >>> 0, at + 4);
}
