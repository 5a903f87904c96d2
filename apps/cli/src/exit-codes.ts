/** Exit codes of `bp`; scripts can rely on them. */
export const EXIT_CODES = {
  /** The command did what it was asked. */
  success: 0,
  /** The operation failed, or a check (verify, demo) found a problem. */
  failed: 1,
  /** The command line or a configuration file is wrong; nothing was changed. */
  usage: 2,
  /** Interrupted by Ctrl-C (SIGINT) or SIGTERM; cleanup ran before exit. */
  interrupted: 130,
} as const;

/** One of {@link EXIT_CODES}. */
export type ExitCode = (typeof EXIT_CODES)[keyof typeof EXIT_CODES];
