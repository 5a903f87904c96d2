/**
 * Where the copy engine reads. Implemented by the NBD client (see {@link nbdSource}) and by a
 * file or fd ({@link createFileSource}).
 */
export interface CopySource {
  /** Size in bytes; regions must lie inside it. */
  readonly size: number;
  /** Fills `buffer[0, length)` with the bytes at `offset`. */
  read(offset: number, length: number, buffer: Uint8Array): Promise<unknown>;
  /** Drops a range that has been stored safely (NBD TRIM, or a hole punch on a file). */
  discard?(offset: number, length: number): Promise<void>;
  /**
   * Bytes worth gathering into one `discard` call when each call is costly (default 0: discard
   * every copied piece at once). Copied ranges wait until they merge to this size or the copy ends.
   */
  readonly discardBatch?: number;
}
