import type { CommandSpec } from './command-spec.js';
import { GLOBAL_OPTIONS } from './global-options.js';
import { optionSignature, type OptionSpec } from './option-spec.js';

function optionLines(specs: readonly OptionSpec[]): string[] {
  const width = Math.max(...specs.map((spec) => optionSignature(spec).length)) + 2;
  return specs.map((spec) => {
    const defaultText = spec.defaultText === undefined ? '' : ` (default: ${spec.defaultText})`;
    // Multi-line descriptions continue under the description column.
    const description = `${spec.description}${defaultText}`.split('\n').join(`\n${' '.repeat(width + 2)}`);
    return `  ${optionSignature(spec).padEnd(width)}${description}`;
  });
}

const EXIT_CODE_LINE = 'Exit codes: 0 success, 1 operation failed, 2 usage or configuration error, 130 interrupted (Ctrl-C)';

/** The help of one command: usage, description, options, global options, examples. */
export function commandHelp(command: CommandSpec): string {
  const lines = [`Usage: bp ${command.name} ${command.usage}`.trimEnd(), '', command.summary];
  if (command.description) lines.push('', command.description);
  if (command.options.length > 0) lines.push('', 'Options', ...optionLines(command.options));
  if (!command.passthrough) lines.push('', 'Global options', ...optionLines(GLOBAL_OPTIONS));
  lines.push('', EXIT_CODE_LINE);
  if (command.examples.length > 0) lines.push('', 'Examples', ...command.examples.map((example) => `  $ ${example}`));
  return `${lines.join('\n')}\n`;
}

/** Sections of the main help, in order, with the command names they list. */
const SECTIONS: ReadonlyArray<[string, readonly string[]]> = [
  ['Back up and restore', ['backup vm', 'backup ct', 'restore']],
  ['Inspect', ['list', 'show', 'verify']],
  ['Manage', ['notes', 'protect', 'unprotect', 'prune', 'delete']],
  ['Storages', ['storage add', 'storage list', 'storage remove']],
  ['Tools', ['nbd', 'demo', 'new-provider', 'help']],
];

/** The main help: tagline, command list by section, global options, paths, examples. */
export function mainHelp(commands: readonly CommandSpec[]): string {
  const byName = new Map(commands.map((command) => [command.name, command]));
  const width = Math.max(...commands.map((command) => command.name.length)) + 2;
  const lines = [
    'bp: back up and restore VMs and containers through the Proxmox VE backup provider API',
    '',
    'Usage: bp <command> [arguments] [options]',
  ];
  for (const [title, names] of SECTIONS) {
    lines.push('', title);
    for (const name of names) {
      const command = byName.get(name);
      if (command) lines.push(`  ${name.padEnd(width)}${command.summary}`);
    }
  }
  lines.push(
    '',
    'Global options',
    ...optionLines(GLOBAL_OPTIONS),
    '',
    'Backups go to the storage `local` (a directory under $XDG_DATA_HOME/bp, or ~/.local/share/bp)',
    'unless --storage names another; storages are configured in $XDG_CONFIG_HOME/bp/storages.json.',
    'BP_HOME overrides both directories.',
    '',
    EXIT_CODE_LINE,
    '',
    'Examples',
    '  $ bp demo',
    '  $ bp backup vm 100 --disk scsi0=./disk.qcow2 --mode incremental',
    '  $ bp backup ct 200 --rootfs ./rootfs --exclude "/var/cache/**"',
    '  $ bp list 100',
    '  $ bp restore local:backup/100/qemu-2026-11-26T20:00:00Z --to ./restored',
    '  $ bp prune --dry-run --keep-last 3 --keep-daily 7',
    '',
    'Run `bp <command> --help` for the options of a command.',
  );
  return `${lines.join('\n')}\n`;
}

/** The help of a command group (`bp backup --help`): its subcommands with their usage. */
export function groupHelp(group: string, commands: readonly CommandSpec[]): string {
  const members = commands.filter((command) => command.name.startsWith(`${group} `));
  const lines = [`Usage: bp ${group} <${members.map((command) => command.name.slice(group.length + 1)).join('|')}> ...`, ''];
  for (const command of members) lines.push(`  bp ${command.name} ${command.usage}`, `      ${command.summary}`);
  lines.push('', `Run \`bp ${group} <subcommand> --help\` for the options.`);
  return `${lines.join('\n')}\n`;
}
