/** Where the CLI writes, and how it is cancelled; the `bp` CLI passes its own. */
export interface NbdCliIo {
  stdout: { write(text: string): unknown; isTTY?: boolean };
  stderr: { write(text: string): unknown; isTTY?: boolean };
  /** Aborts a running command (the bin wires SIGINT/SIGTERM). */
  signal?: AbortSignal;
}

/** A usage error: exit code 2. */
export class UsageError extends Error {
  override name = 'UsageError';
}
