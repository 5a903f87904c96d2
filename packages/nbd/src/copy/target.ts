/**
 * Where the copy engine writes. Implemented by an NBD connection to a writable export, a raw file,
 * and a direct qcow2 writer.
 */
export interface CopyTarget {
  /** True when ranges never written already read as zeroes (a fresh sparse target with no backing file). */
  readonly zeroInitialized: boolean;
  /** Writes `data` at `offset`. The caller may reuse the buffer once the promise settles. */
  write(offset: number, data: Uint8Array): Promise<void>;
  /** Makes `[offset, offset + length)` read as zeroes without sending zero bytes where the target can avoid it. */
  writeZeroes(offset: number, length: number): Promise<void>;
  /** Makes everything written so far durable. */
  flush(): Promise<void>;
  /** Releases the target; does not flush by itself. Safe to call twice. */
  close(): Promise<void>;
}
