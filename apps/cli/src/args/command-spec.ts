import type { ErrorCode } from '@bp/api';
import type { CliIo } from '../cli-io.js';
import type { BpPaths } from '../config/paths.js';
import type { ProgressFactory } from '../progress/progress.js';
import type { GlobalOptions } from './global-options.js';
import type { OptionSpec } from './option-spec.js';

/** What a command receives. */
export interface CommandContext {
  io: CliIo;
  global: GlobalOptions;
  /** Command-specific option values (parseArgs' `values`). */
  values: Record<string, string | boolean | Array<string | boolean> | undefined>;
  positionals: string[];
  paths: BpPaths;
  /** Aborted on Ctrl-C; pass it to every long operation. */
  signal: AbortSignal;
  /** Progress bars on stderr (no-ops unless stderr is a TTY and progress is wanted). */
  progress: ProgressFactory;
  /** Informational lines on stderr (suppressed with --json). */
  log(line: string): void;
}

/** What a command returns: the `--json` document and the human text for stdout. */
export interface CommandResult<Json = unknown> {
  json: Json;
  text: string;
  /** 1 when the command ran but found a problem (verify, demo); default 0. */
  exitCode?: number;
  /** The command wrote its own output (passthrough tools); print nothing more. */
  printed?: boolean;
}

/** One `bp` command: parsing, help and behaviour in one place. */
export interface CommandSpec {
  /** Words after `bp`, e.g. `backup vm`. */
  name: string;
  /** One line for the command list. */
  summary: string;
  /** Arguments after the command words, e.g. `<vmid> --disk <dev>=<image>`. */
  usage: string;
  /** Paragraphs shown under Usage. */
  description?: string;
  options: readonly OptionSpec[];
  positionals: { min: number; max: number; names: string };
  /** `$ bp ...` lines for the Examples block. */
  examples: readonly string[];
  /** Code for unexpected (non-BpError) failures of this command. */
  failureCode: ErrorCode;
  /** Everything after the command words is passed on unparsed (global options must come first). */
  passthrough?: boolean;
  run(context: CommandContext): Promise<CommandResult>;
}
