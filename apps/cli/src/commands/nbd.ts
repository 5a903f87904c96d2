import { runNbdCli } from '@bp/nbd/cli';
import type { CommandSpec } from '../args/command-spec.js';

/** `bp nbd ...`: the `bp-nbd` tool of @bp/nbd (info, map, copy) under the main binary. */
export const nbdCommand: CommandSpec = {
  name: 'nbd',
  summary: 'NBD tools: info, map (extents), copy (see `bp nbd --help`)',
  usage: '<info|map|copy> [arguments]',
  description: 'Everything after `nbd` is handed to bp-nbd unchanged; `bp nbd --help` shows its own help.',
  options: [],
  positionals: { min: 0, max: Number.POSITIVE_INFINITY, names: 'bp-nbd arguments' },
  examples: ["bp nbd info 'nbd+unix:///drive-scsi0?socket=/run/qsd.sock'", "bp nbd map --json 'nbd+unix:///disk?socket=/tmp/nbd.sock'"],
  failureCode: 'BP_NBD_IO',
  passthrough: true,
  async run(context) {
    // A global --json before `nbd` is meant for the tool as well.
    const argv = context.global.json && !context.positionals.includes('--json') ? [...context.positionals, '--json'] : context.positionals;
    const exitCode = await runNbdCli(argv, { stdout: context.io.stdout, stderr: context.io.stderr, signal: context.signal });
    return { json: undefined, text: '', exitCode, printed: true };
  },
};
