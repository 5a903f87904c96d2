/**
 * True for the errors a writer sees when its reader closed the pipe first (`EPIPE`, a premature
 * close). tar stops reading at the end-of-archive marker and exits 0, so the record padding (or
 * anything appended) after it may still be in flight: once tar itself succeeded, such an error
 * on the feeding side is harmless.
 */
export function isClosedByReader(error: unknown): boolean {
  const code = (error as { code?: unknown } | undefined)?.code;
  return code === 'EPIPE' || code === 'ERR_STREAM_PREMATURE_CLOSE';
}
