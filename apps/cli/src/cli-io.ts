/** A text sink: process.stdout, process.stderr or a test buffer. */
export interface TextSink {
  write(text: string): unknown;
  /** True when the sink is an interactive terminal (progress bars are drawn only there). */
  isTTY?: boolean;
}

/** Everything a command may touch of the outside world, so tests can run the CLI in-process. */
export interface CliIo {
  stdout: TextSink;
  stderr: TextSink;
  env: Record<string, string | undefined>;
  cwd: string;
  /** Aborted on Ctrl-C (SIGINT) or SIGTERM; every long operation receives it. */
  signal: AbortSignal;
}
