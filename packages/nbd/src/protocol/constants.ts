/** Magic numbers and enumerations of the NBD protocol (NetworkBlockDevice doc/proto.md). */

/** "NBDMAGIC", first 8 bytes the server sends. */
export const NBD_MAGIC = 0x4e42444d41474943n;
/** "IHAVEOPT": newstyle servers, and the prefix of every option request. */
export const IHAVEOPT = 0x49484156454f5054n;
/** Oldstyle servers send this instead of IHAVEOPT. */
export const OLDSTYLE_MAGIC = 0x00420281861253n;
/** Prefix of every option reply. */
export const OPTION_REPLY_MAGIC = 0x3e889045565a9n;
export const REQUEST_MAGIC = 0x25609513;
export const SIMPLE_REPLY_MAGIC = 0x67446698;
export const STRUCTURED_REPLY_MAGIC = 0x668e33ef;

export const HandshakeFlag = { FIXED_NEWSTYLE: 1, NO_ZEROES: 2 } as const;

export const Option = {
  EXPORT_NAME: 1,
  ABORT: 2,
  LIST: 3,
  STARTTLS: 5,
  INFO: 6,
  GO: 7,
  STRUCTURED_REPLY: 8,
  LIST_META_CONTEXT: 9,
  SET_META_CONTEXT: 10,
} as const;

export const OptionReply = {
  ACK: 1,
  SERVER: 2,
  INFO: 3,
  META_CONTEXT: 4,
} as const;

/** Option reply types with bit 31 set are errors. */
export const OPTION_REPLY_ERROR_BIT = 0x8000_0000;
export const OptionError: Record<number, string> = {
  [0x8000_0001]: 'unsupported option',
  [0x8000_0002]: 'forbidden by server policy',
  [0x8000_0003]: 'invalid option',
  [0x8000_0004]: 'not supported on this platform',
  [0x8000_0005]: 'TLS required',
  [0x8000_0006]: 'unknown export',
  [0x8000_0007]: 'server shutting down',
  [0x8000_0008]: 'block size negotiation required',
  [0x8000_0009]: 'request too big',
};
export const OPTION_ERROR_UNSUPPORTED = 0x8000_0001;
export const OPTION_ERROR_UNKNOWN_EXPORT = 0x8000_0006;

export const InfoType = { EXPORT: 0, NAME: 1, DESCRIPTION: 2, BLOCK_SIZE: 3 } as const;

export const TransmissionFlag = {
  HAS_FLAGS: 1 << 0,
  READ_ONLY: 1 << 1,
  SEND_FLUSH: 1 << 2,
  SEND_FUA: 1 << 3,
  ROTATIONAL: 1 << 4,
  SEND_TRIM: 1 << 5,
  SEND_WRITE_ZEROES: 1 << 6,
  SEND_DF: 1 << 7,
  CAN_MULTI_CONN: 1 << 8,
  SEND_RESIZE: 1 << 9,
  SEND_CACHE: 1 << 10,
  SEND_FAST_ZERO: 1 << 11,
} as const;

export const Command = {
  READ: 0,
  WRITE: 1,
  DISC: 2,
  FLUSH: 3,
  TRIM: 4,
  CACHE: 5,
  WRITE_ZEROES: 6,
  BLOCK_STATUS: 7,
} as const;
export type CommandType = (typeof Command)[keyof typeof Command];

export const CommandFlag = { FUA: 1, NO_HOLE: 2, DF: 4, REQ_ONE: 8, FAST_ZERO: 16 } as const;

export const ReplyFlag = { DONE: 1 } as const;

export const ChunkType = {
  NONE: 0,
  OFFSET_DATA: 1,
  OFFSET_HOLE: 2,
  BLOCK_STATUS: 5,
  ERROR: 0x8001,
  ERROR_OFFSET: 0x8002,
} as const;
export const CHUNK_ERROR_BIT = 0x8000;

/** Flags of `base:allocation` extents. */
export const AllocationFlag = { HOLE: 1, ZERO: 2 } as const;
/** Flag of `qemu:dirty-bitmap:*` extents. */
export const DIRTY_FLAG = 1;

/** Errno values the protocol defines, by number. */
export const NbdErrno: Record<number, string> = {
  1: 'EPERM',
  5: 'EIO',
  12: 'ENOMEM',
  22: 'EINVAL',
  28: 'ENOSPC',
  75: 'EOVERFLOW',
  95: 'ENOTSUP',
  108: 'ESHUTDOWN',
};

/** Sizes of fixed wire structures, in bytes. */
export const REQUEST_HEADER_SIZE = 28;
export const SIMPLE_REPLY_SIZE = 16;
export const STRUCTURED_REPLY_HEADER_SIZE = 20;
/** Default maximum payload when the server states none (the protocol's recommended 32 MiB). */
export const DEFAULT_MAX_PAYLOAD = 32 * 1024 * 1024;
