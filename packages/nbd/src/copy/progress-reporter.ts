/** Progress of a running copy. */
export interface CopyProgress {
  /** Bytes of regions finished (data and zero regions). */
  bytesDone: number;
  /** Sum of all region lengths when known (`totalBytes` option). */
  bytesTotal?: number;
  /** Average rate since the start, bytes/s. */
  bytesPerSecond: number;
}

/** Calls `onProgress` at most every `intervalMs`, and always for the final report. */
export function progressReporter(
  onProgress: ((progress: CopyProgress) => void) | undefined,
  bytesTotal: number | undefined,
  intervalMs = 200,
): (bytesDone: number, final: boolean) => void {
  const started = performance.now();
  let last = 0;
  return (bytesDone: number, final: boolean): void => {
    if (!onProgress) return;
    const now = performance.now();
    if (!final && now - last < intervalMs) return;
    last = now;
    const seconds = (now - started) / 1000;
    onProgress({ bytesDone, bytesTotal, bytesPerSecond: seconds > 0 ? bytesDone / seconds : 0 });
  };
}
