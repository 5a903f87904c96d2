import type { ProgressEventJson } from '../output/json-types.js';
import type { ProgressBar } from './progress.js';

/** A `bytes` job event of @bp/host: a provider's own progress report. */
export interface BytesEvent {
  vmid: number;
  device?: string;
  bytesDone: number;
  bytesTotal?: number;
}

/**
 * Turns the provider's byte reports (forwarded by the host) into the bar and, with `--json`, into
 * progress lines on stderr. `reported` tells whether any report arrived (the caller's estimate
 * from storage growth stops then).
 */
export function backupProgress(bar: ProgressBar, writeJsonLine: ((line: string) => void) | undefined): { onBytes(event: BytesEvent): void; readonly reported: boolean } {
  const perDevice = new Map<string, number>();
  let reported = false;
  return {
    onBytes(event) {
      reported = true;
      perDevice.set(event.device ?? '', event.bytesDone);
      let done = 0;
      for (const bytes of perDevice.values()) done += bytes;
      bar.update(done);
      if (writeJsonLine) {
        const json: ProgressEventJson = {
          type: 'progress',
          vmid: event.vmid,
          device: event.device ?? null,
          bytesDone: event.bytesDone,
          bytesTotal: event.bytesTotal ?? null,
          guestBytesDone: done,
        };
        writeJsonLine(JSON.stringify(json));
      }
    },
    get reported() {
      return reported;
    },
  };
}
