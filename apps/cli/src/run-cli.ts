import { BpError, toBpError } from '@bp/api';
import type { CommandContext, CommandSpec } from './args/command-spec.js';
import { commandHelp, groupHelp, mainHelp } from './args/help-text.js';
import { parseCommandLine, type ParsedCommandLine } from './args/parse-command-line.js';
import type { CliIo } from './cli-io.js';
import { COMMANDS } from './commands/index.js';
import { resolvePaths } from './config/paths.js';
import { errorJson, reportError } from './errors/report-error.js';
import { exitCodeForError } from './errors/exit-code-for-error.js';
import { usageError } from './errors/usage-error.js';
import { EXIT_CODES } from './exit-codes.js';
import { createProgressFactory, progressWanted } from './progress/progress.js';
import { CLI_VERSION } from './version.js';

function checkPositionals(command: CommandSpec, positionals: readonly string[]): void {
  const { min, max, names } = command.positionals;
  if (positionals.length < min) throw usageError(`\`bp ${command.name}\` needs ${names}`);
  if (positionals.length > max) {
    throw usageError(`\`bp ${command.name}\` takes ${max === 0 ? 'no arguments' : names}, got extra ${JSON.stringify(positionals.slice(max).join(' '))}`);
  }
}

function fail(io: CliIo, error: unknown, options: { json: boolean; debug: boolean; command?: CommandSpec }): number {
  const bpError = BpError.isInstance(error)
    ? error
    : toBpError(error, options.command?.failureCode ?? 'BP_INVALID_ARGUMENT', options.command ? `bp ${options.command.name} failed` : 'bp failed');
  if (options.json) io.stdout.write(`${JSON.stringify(errorJson(bpError), null, 2)}\n`);
  reportError(io.stderr, bpError, { debug: options.debug, ...(options.command ? { command: options.command.name } : {}) });
  return io.signal.aborted ? EXIT_CODES.interrupted : exitCodeForError(bpError);
}

/**
 * Runs `bp` with `argv` (without node and script) against `io` and resolves to the exit code.
 * Never throws: every failure is printed (BP_ code and what to do) and mapped to an exit code.
 */
export async function runCli(argv: readonly string[], io: CliIo): Promise<number> {
  const early = { json: argv.includes('--json'), debug: argv.includes('--debug') };
  let parsed: ParsedCommandLine;
  try {
    parsed = parseCommandLine(argv, COMMANDS);
  } catch (error) {
    return fail(io, error, early);
  }
  const { command, global } = parsed;
  if (global.version) {
    io.stdout.write(global.json ? `${JSON.stringify({ version: CLI_VERSION })}\n` : `${CLI_VERSION}\n`);
    return EXIT_CODES.success;
  }
  if (!command) {
    if (global.help) {
      const group = parsed.positionals[0];
      io.stdout.write(group ? groupHelp(group, COMMANDS) : mainHelp(COMMANDS));
      return EXIT_CODES.success;
    }
    io.stderr.write(mainHelp(COMMANDS));
    return EXIT_CODES.usage;
  }
  if (global.help && !command.passthrough) {
    io.stdout.write(commandHelp(command));
    return EXIT_CODES.success;
  }
  try {
    if (!command.passthrough) checkPositionals(command, parsed.positionals);
    const context: CommandContext = {
      io,
      global,
      values: parsed.values,
      positionals: command.passthrough ? parsed.rest : parsed.positionals,
      paths: resolvePaths(io.env),
      signal: io.signal,
      progress: createProgressFactory(io.stderr, progressWanted(io.stderr, io.env, global)),
      log: (line) => {
        if (!global.json) io.stderr.write(`${line}\n`);
      },
    };
    const result = await command.run(context);
    if (result.printed) return result.exitCode ?? EXIT_CODES.success;
    if (global.json) io.stdout.write(`${JSON.stringify(result.json, null, 2)}\n`);
    else if (result.text.length > 0) io.stdout.write(result.text.endsWith('\n') ? result.text : `${result.text}\n`);
    return result.exitCode ?? EXIT_CODES.success;
  } catch (error) {
    return fail(io, error, { json: global.json, debug: global.debug, command });
  }
}
