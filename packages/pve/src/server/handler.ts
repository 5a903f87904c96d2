import type { LogLevel } from '@bp/api';

/** What a handler gets besides its parameters. */
export interface CallContext {
  /** Aborted when Perl cancels the call or its connection closes. */
  signal: AbortSignal;
  /** Streams a log line to the Perl side at once (the call's `$log_function` / `$logfunc`). */
  log(level: LogLevel, message: string): void;
  /** Asks the Perl side something while this call runs there (`regions.next`); see docs/protocol.md. */
  request(method: string, params: Record<string, unknown>): Promise<unknown>;
}

/** One protocol method: Perl-shaped parameters in, a Perl-shaped (JSON) result out. */
export type Handler = (params: Record<string, unknown>, context: CallContext) => Promise<unknown>;
