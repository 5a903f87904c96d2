import { parseArgs } from 'node:util';
import { usageError } from '../errors/usage-error.js';
import type { CommandSpec } from './command-spec.js';
import { GLOBAL_OPTIONS, globalOptionsFrom, type GlobalOptions } from './global-options.js';
import { parseArgsOptions } from './option-spec.js';

/** A command line split into the command, its global options and its own values. */
export interface ParsedCommandLine {
  command: CommandSpec | undefined;
  global: GlobalOptions;
  values: Record<string, string | boolean | Array<string | boolean> | undefined>;
  positionals: string[];
  /** For passthrough commands: the arguments after the command words, untouched. */
  rest: string[];
}

// Global options that take a value: their value must not be mistaken for a command word.
const GLOBAL_VALUE_FLAGS = new Set(GLOBAL_OPTIONS.filter((spec) => spec.type === 'string').flatMap((spec) => [`--${spec.name}`, ...(spec.short ? [`-${spec.short}`] : [])]));

/** Indexes of the leading non-option words (the command words candidates). */
function wordIndexes(argv: readonly string[]): number[] {
  const indexes: number[] = [];
  for (let index = 0; index < argv.length; index += 1) {
    const token = argv[index] ?? '';
    if (token === '--') break;
    if (token.startsWith('-')) {
      if (GLOBAL_VALUE_FLAGS.has(token)) index += 1;
      if (indexes.length > 0) break; // options after the first word end the command words
      continue;
    }
    indexes.push(index);
    if (indexes.length === 2) break;
  }
  return indexes;
}

function toUsageError(error: unknown): never {
  const message = error instanceof Error ? error.message : String(error);
  throw usageError(message.replace(/\. To specify a positional argument.*$/s, ''));
}

/**
 * Finds the command (the longest match of its leading words, e.g. `backup vm` before `backup`)
 * and parses the rest strictly with the global options plus the command's own.
 */
export function parseCommandLine(argv: readonly string[], commands: readonly CommandSpec[]): ParsedCommandLine {
  const indexes = wordIndexes(argv);
  const words = indexes.map((index) => argv[index] ?? '');
  let command: CommandSpec | undefined;
  let used = 0;
  for (let count = words.length; count > 0 && !command; count -= 1) {
    const name = words.slice(0, count).join(' ');
    command = commands.find((candidate) => candidate.name === name);
    if (command) used = count;
  }
  if (!command && words.length > 0) {
    const prefix = commands.filter((candidate) => candidate.name.startsWith(`${words[0]} `));
    if (prefix.length > 0) {
      const names = prefix.map((candidate) => candidate.name).join(', ');
      const global = parseGlobalOnly(argv.filter((_, index) => index !== indexes[0] && index !== indexes[1]));
      if (global.help) return { command: undefined, global, values: {}, positionals: [words[0] ?? ''], rest: [] };
      throw usageError(words.length > 1 ? `unknown command \`${words.join(' ')}\`; try ${names}` : `\`${words[0]}\` needs a subcommand: ${names}`);
    }
    throw usageError(`unknown command \`${words[0]}\`; run \`bp --help\` for the list of commands`);
  }
  const commandIndexes = new Set(indexes.slice(0, used));
  if (command?.passthrough) {
    const last = indexes[used - 1] ?? -1;
    const before = argv.slice(0, last).filter((_, index) => !commandIndexes.has(index));
    return { command, global: parseGlobalOnly(before), values: {}, positionals: [], rest: argv.slice(last + 1) };
  }
  const args = argv.filter((_, index) => !commandIndexes.has(index));
  const specs = [...GLOBAL_OPTIONS, ...(command?.options ?? [])];
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({ args, options: parseArgsOptions(specs), strict: true, allowPositionals: true, allowNegative: true });
  } catch (error) {
    toUsageError(error);
  }
  return { command, global: globalOptionsFrom(parsed.values), values: parsed.values, positionals: parsed.positionals, rest: [] };
}

function parseGlobalOnly(args: string[]): GlobalOptions {
  try {
    const parsed = parseArgs({ args, options: parseArgsOptions(GLOBAL_OPTIONS), strict: true, allowPositionals: false, allowNegative: true });
    return globalOptionsFrom(parsed.values);
  } catch (error) {
    toUsageError(error);
  }
}
