import type { CommandSpec } from '../args/command-spec.js';
import { commandHelp, mainHelp } from '../args/help-text.js';
import { usageError } from '../errors/usage-error.js';

/** `bp help [command]`, built lazily over the command list to avoid an import cycle. */
export function helpCommand(commands: () => readonly CommandSpec[]): CommandSpec {
  return {
    name: 'help',
    summary: 'Show help for bp or one command',
    usage: '[command]',
    options: [],
    positionals: { min: 0, max: 2, names: 'a command name' },
    examples: ['bp help backup vm'],
    failureCode: 'BP_INVALID_ARGUMENT',
    async run(context) {
      const all = commands();
      if (context.positionals.length === 0) return { json: { help: mainHelp(all) }, text: mainHelp(all) };
      const name = context.positionals.join(' ');
      const command = all.find((candidate) => candidate.name === name);
      if (!command) throw usageError(`unknown command \`${name}\`; run \`bp --help\` for the list`);
      return { json: { help: commandHelp(command) }, text: commandHelp(command) };
    },
  };
}
