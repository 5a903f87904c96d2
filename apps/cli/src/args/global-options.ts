import type { OptionSpec } from './option-spec.js';

/** Options every command accepts. */
export const GLOBAL_OPTIONS: readonly OptionSpec[] = [
  { name: 'storage', short: 's', type: 'string', argument: '<id>', description: 'storage to use (see `bp storage list`)', defaultText: 'local' },
  { name: 'json', type: 'boolean', description: 'print one JSON document on stdout (shape: see README)' },
  { name: 'progress', type: 'boolean', negatable: true, description: 'no progress bars (they appear only on a terminal, never in CI)' },
  { name: 'debug', type: 'boolean', description: 'print details, stack traces and causes of errors' },
  { name: 'help', short: 'h', type: 'boolean', description: 'show help' },
  { name: 'version', short: 'V', type: 'boolean', description: 'show the version' },
];

/** The parsed global options. */
export interface GlobalOptions {
  storage: string | undefined;
  json: boolean;
  /** Progress bars wanted (a TTY decides the rest). */
  progress: boolean;
  debug: boolean;
  help: boolean;
  version: boolean;
}

/** Picks the global options out of parseArgs' values. */
export function globalOptionsFrom(values: Record<string, unknown>): GlobalOptions {
  return {
    storage: typeof values.storage === 'string' ? values.storage : undefined,
    json: values.json === true,
    progress: values.progress !== false,
    debug: values.debug === true,
    help: values.help === true,
    version: values.version === true,
  };
}
