import type { BpError } from '@bp/api/errors';
import type { RangeSet } from '../extents/range-set.js';
import type { CommandType } from '../protocol/index.js';

/** One extent of a block-status reply: `length` bytes with the context's `flags`. */
export interface Extent {
  offset: number;
  length: number;
  flags: number;
}

/** A request waiting for its reply, keyed by handle. */
export interface PendingRequest {
  handle: number;
  command: CommandType;
  /** Command name for messages. */
  name: string;
  offset: number;
  length: number;
  /** READ destination, at least `length` bytes. */
  buffer?: Uint8Array;
  /** Structured READ: `[start, end)` ranges (relative to `offset`) already filled. */
  covered: RangeSet;
  coveredBytes: number;
  /** BLOCK_STATUS: extents by context name. */
  extents?: Map<string, Extent[]>;
  /** First error chunk seen; reported once the reply is done. */
  error?: BpError;
  resolve: () => void;
  reject: (error: unknown) => void;
  timer?: NodeJS.Timeout;
}
