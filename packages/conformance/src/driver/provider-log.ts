import type { LogFunction, LogLevel } from '@bp/api';

/** Collects what a provider logs, for failure messages. */
export class ProviderLog {
  readonly lines: Array<{ level: LogLevel; message: string }> = [];
  readonly log: LogFunction = (level, message) => void this.lines.push({ level, message });

  /** The last lines, for appending to a failure message. */
  tail(count = 8): string {
    return this.lines
      .slice(-count)
      .map(({ level, message }) => `${level}: ${message}`)
      .join('\n');
  }
}
