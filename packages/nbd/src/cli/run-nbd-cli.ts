import { parseArgs } from 'node:util';
import { BpError, toBpError } from '@bp/api/errors';
import { copyCommand } from './copy-command.js';
import { infoCommand } from './info-command.js';
import { type NbdCliIo, UsageError } from './io.js';
import { mapCommand } from './map-command.js';
import { parseSize } from './sizes.js';

/** Help text of `bp-nbd` (and `bp nbd`). */
export const NBD_CLI_HELP = `Usage: bp-nbd <command> [options]

Commands:
  info URI                 Size, flags, block sizes and metadata contexts of an export
  map URI                  Extents of a metadata context (like nbdinfo --map)
  copy SRC DST             Copy an export to an NBD export, a raw file or a new qcow2 file

URIs: nbd+unix:///EXPORT?socket=PATH, nbd://HOST[:PORT]/EXPORT, nbd:unix:PATH:exportname=EXPORT

Options:
  --json                   One JSON document on stdout (info, map, copy)
  --context C              map: metadata context (default base:allocation)
  --bitmap NAME            copy: only the dirty extents of qemu:dirty-bitmap:NAME
  --requests N             copy: requests in flight (default 8)
  --connections N          copy: NBD connections per export when the server allows multi-conn (default 1)
  --request-size SIZE      copy: bytes per request (default 2M)
  --bwlimit SIZE           copy: limit in bytes/s, e.g. 50M
  --discard-source         copy: TRIM each region on the source once written
  --target-is-zero         copy: the target reads as zeroes already; skip zero regions
  --format raw|qcow2       copy: format of a file DST (default: qcow2 for *.qcow2, else raw)
  --backing FILE           copy: backing file of a new qcow2 DST (overlay for an incremental)
  --progress               copy: show progress on stderr
  -h, --help               Show this help

Exit codes: 0 success, 1 the operation failed, 2 usage error.

Examples:
  bp-nbd info 'nbd+unix:///drive-scsi0?socket=/run/vm.sock'
  bp-nbd map --context qemu:dirty-bitmap:b0 'nbd+unix:///disk?socket=/tmp/s.sock'
  bp-nbd copy --bitmap b0 --progress 'nbd+unix:///disk?socket=/tmp/s.sock' /backup/disk.raw
  bp-nbd copy --bitmap b0 --backing full.qcow2 'nbd+unix:///disk?socket=/tmp/s.sock' incr.qcow2
`;

function positiveInteger(text: string | undefined, what: string): number | undefined {
  if (text === undefined) return undefined;
  const value = Number(text);
  if (!Number.isSafeInteger(value) || value <= 0) throw new UsageError(`${what}: "${text}" must be a positive integer`);
  return value;
}

function parseFormat(text: string | undefined): 'raw' | 'qcow2' | undefined {
  if (text === undefined || text === 'raw' || text === 'qcow2') return text;
  throw new UsageError(`--format: "${text}" must be raw or qcow2`);
}

function expectArgs(positionals: string[], count: number, usage: string): string[] {
  if (positionals.length !== count) throw new UsageError(`usage: bp-nbd ${usage}`);
  return positionals;
}

async function dispatch(argv: string[], io: NbdCliIo): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      json: { type: 'boolean', default: false },
      context: { type: 'string' },
      bitmap: { type: 'string' },
      requests: { type: 'string' },
      connections: { type: 'string' },
      'request-size': { type: 'string' },
      bwlimit: { type: 'string' },
      'discard-source': { type: 'boolean', default: false },
      'target-is-zero': { type: 'boolean', default: false },
      format: { type: 'string' },
      backing: { type: 'string' },
      progress: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  const [command, ...rest] = positionals;
  if (values.help || command === undefined || command === 'help') {
    io.stdout.write(NBD_CLI_HELP);
    return command === undefined && !values.help ? 2 : 0;
  }
  switch (command) {
    case 'info':
      return infoCommand(expectArgs(rest, 1, 'info URI')[0]!, values.json, io);
    case 'map':
      return mapCommand(expectArgs(rest, 1, 'map URI [--context C]')[0]!, values.context ?? 'base:allocation', values.json, io);
    case 'copy': {
      const [source, destination] = expectArgs(rest, 2, 'copy SRC DST [--bitmap NAME] [--requests N] [--bwlimit B/s] [--progress]');
      return copyCommand(
        {
          source: source!,
          destination: destination!,
          bitmap: values.bitmap,
          requests: positiveInteger(values.requests, '--requests'),
          connections: positiveInteger(values.connections, '--connections'),
          requestSize: values['request-size'] === undefined ? undefined : parseSize(values['request-size'], '--request-size'),
          bandwidthLimit: values.bwlimit === undefined ? undefined : parseSize(values.bwlimit, '--bwlimit'),
          progress: values.progress && !values.json,
          discardSource: values['discard-source'],
          targetIsZero: values['target-is-zero'],
          format: parseFormat(values.format),
          backing: values.backing,
          json: values.json,
        },
        io,
      );
    }
    default:
      throw new UsageError(`unknown command "${command}"`);
  }
}

/**
 * Runs `bp-nbd` with `argv` (without the program name). Returns the exit code: 0 success,
 * 1 failure (printed as `BP_CODE: message`), 2 usage error. Never throws.
 */
export async function runNbdCli(argv: string[], io: NbdCliIo): Promise<number> {
  try {
    return await dispatch(argv, io);
  } catch (error) {
    const usage = error instanceof UsageError || (error as NodeJS.ErrnoException).code?.startsWith('ERR_PARSE_ARGS');
    if (usage) {
      io.stderr.write(`BP_INVALID_ARGUMENT: ${(error as Error).message}\nRun 'bp-nbd --help' for usage.\n`);
      return 2;
    }
    const failure = io.signal?.aborted && !BpError.hasCode(error, 'BP_ABORTED') ? new BpError('BP_ABORTED', 'Interrupted.') : toBpError(error, 'BP_NBD_IO', 'bp-nbd failed');
    io.stderr.write(`${failure.code}: ${failure.message}\n`);
    return failure.code === 'BP_INVALID_ARGUMENT' ? 2 : 1;
  }
}
