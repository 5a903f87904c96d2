import type { LogFunction } from '@bp/api';
import type { CommandContext } from '../args/command-spec.js';

/** The provider's log lines on stderr: warnings and errors always, info with --debug. */
export function providerLog(context: CommandContext): LogFunction {
  return (level, message) => {
    if (level !== 'info' || context.global.debug) context.log(`${level}: ${message}`);
  };
}
