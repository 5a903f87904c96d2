import { Transform, type Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { BpError } from '@bp/api';
import { execa, type ResultPromise } from 'execa';
import { compileExclusions, type CompiledExclusions } from '../exclusions/index.js';
import { StderrTail, toolError } from '../process/tool-error.js';
import { normalizeSources } from '../sources.js';
import { writeFileAtomically } from '../stream/atomic-file.js';
import { createRateLimitStream } from '../stream/rate-limit.js';
import { compressorFor, type TarCompression } from './compression.js';
import { CREATE_TAR_FLAGS } from './tar-flags.js';

/** Progress of an archive creation. */
export interface ArchiveProgress {
  /** Uncompressed archive bytes produced so far. */
  bytes: number;
  /** Members archived so far (only when the tool reports them; tar does with progress on). */
  files?: number;
}

/** Options of {@link createTarArchive}. */
export interface CreateTarOptions {
  /** The container root (vzdump's `directory`). */
  directory: string;
  /** Paths relative to `directory` (vzdump's `sources`); default `['./']`. */
  sources?: readonly string[];
  /** Exclusion patterns (vzdump/PBS semantics) or an already compiled set. */
  exclude?: readonly string[] | CompiledExclusions;
  /** Add PVE's standard exclusions; default false (vzdump passes them in `exclude` already). */
  standardExclusions?: boolean;
  /** A file path (written atomically, never replaced) or a writable stream (e.g. an upload). */
  output: string | Writable;
  /** Default `'none'`. */
  compression?: TarCompression;
  /** Bytes per second of the uncompressed tar stream (vzdump's `bandwidth-limit`); 0 = unlimited. */
  bandwidthLimit?: number;
  /** Called at most every 200 ms and once at the end. Turns on tar's per-file listing. */
  onProgress?: (progress: ArchiveProgress) => void;
  signal?: AbortSignal;
}

/** What {@link createTarArchive} produced. */
export interface CreateTarResult {
  /** Uncompressed tar bytes. */
  bytes: number;
  /** Bytes written to the output (after compression). */
  writtenBytes: number;
  /** Members archived (when `onProgress` was given). */
  files?: number;
  /** tar's `--totals` line, e.g. "Total bytes written: 10240 (10KiB, 20MiB/s)". */
  totals?: string;
}

const PROGRESS_INTERVAL_MS = 200;

/**
 * Archives a container tree the way vzdump does (`tar cpf - --totals --one-file-system -p
 * --sparse --numeric-owner --acls --xattrs ...`), with exclusions, optional compression and a
 * bandwidth limit on the uncompressed stream. Works for any user that can read the tree and
 * write the output's directory (temporary files are created next to the output).
 *
 * @throws BpError `BP_ARCHIVE_FAILED` (with tar's stderr) when tar or the compressor fails; a
 *   file output is then removed. `BP_ALREADY_EXISTS` if the output file exists.
 *   `BP_INVALID_ARGUMENT` for bad sources or patterns. `BP_ABORTED` when `signal` fires.
 */
export async function createTarArchive(options: CreateTarOptions): Promise<CreateTarResult> {
  const sources = normalizeSources(options.sources);
  const exclusions = isCompiled(options.exclude)
    ? options.exclude
    : compileExclusions(options.exclude ?? [], { standard: options.standardExclusions ?? false });
  const compressor = compressorFor(options.compression ?? 'none');
  const listFiles = options.onProgress !== undefined;
  const args = [
    'cpf',
    '-',
    '--totals',
    ...CREATE_TAR_FLAGS,
    `--directory=${options.directory}`,
    ...(listFiles ? ['--verbose'] : []),
    ...exclusions.tarArguments,
    ...sources,
  ];
  const run = (destination: Writable): Promise<CreateTarResult> => runTar(args, compressor.compress, destination, options, listFiles);
  if (typeof options.output !== 'string') return run(options.output);
  const path = options.output;
  return writeFileAtomically(path, run);
}

function isCompiled(value: CreateTarOptions['exclude']): value is CompiledExclusions {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && 'tarArguments' in value;
}

async function runTar(
  args: string[],
  compressCommand: readonly string[],
  destination: Writable,
  options: CreateTarOptions,
  listFiles: boolean,
): Promise<CreateTarResult> {
  const controller = new AbortController();
  const signal = options.signal ? AbortSignal.any([options.signal, controller.signal]) : controller.signal;
  const stderr = new StderrTail();
  const progress: ArchiveProgress = listFiles ? { bytes: 0, files: 0 } : { bytes: 0 };
  let totals: string | undefined;
  let lastReport = 0;
  const report = (force: boolean): void => {
    const now = performance.now();
    if (!options.onProgress || (!force && now - lastReport < PROGRESS_INTERVAL_MS)) return;
    lastReport = now;
    options.onProgress({ ...progress });
  };

  const tar = execa('tar', args, { stdin: 'ignore', buffer: false, cancelSignal: signal, encoding: 'buffer' });
  readLines(tar, (line) => {
    if (listFiles && line.startsWith('./')) {
      progress.files = (progress.files ?? 0) + 1;
      report(false);
    } else if (line.startsWith('Total bytes written:')) totals = line;
    else stderr.append(`${line}\n`);
  });
  const counter = new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      progress.bytes += chunk.length;
      report(false);
      callback(null, chunk);
    },
  });
  let writtenBytes = 0;
  const countWritten = new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      writtenBytes += chunk.length;
      callback(null, chunk);
    },
  });

  const compress = compressCommand.length > 0 ? execa(compressCommand[0]!, compressCommand.slice(1), { buffer: false, cancelSignal: signal, stderr: 'pipe' }) : undefined;
  const compressStderr = new StderrTail();
  compress?.stderr?.on('data', (chunk: Buffer) => compressStderr.append(chunk.toString()));
  // The first failure names the tool to blame; the others are consequences of the abort.
  let failure: { tool: string; error: unknown } | undefined;
  const watch = (tool: string, stage: Promise<unknown>): Promise<unknown> =>
    stage.catch((error: unknown) => {
      failure ??= { tool, error };
      controller.abort();
    });
  const limiter = createRateLimitStream(options.bandwidthLimit);
  await Promise.all(
    compress
      ? [
          watch('tar', tar),
          watch(compressCommand[0]!, compress),
          watch('tar', pipeline(tar.stdout!, counter, limiter, compress.stdin!)),
          watch('output', pipeline(compress.stdout!, countWritten, destination)),
        ]
      : [watch('tar', tar), watch('output', pipeline(tar.stdout!, counter, limiter, countWritten, destination))],
  );
  if (failure) {
    if (options.signal?.aborted) throw new BpError('BP_ABORTED', 'Creating the tar archive was aborted.', { cause: failure.error });
    const text = failure.tool === 'tar' ? stderr.toString() : failure.tool === 'output' ? '' : compressStderr.toString();
    throw toolError('BP_ARCHIVE_FAILED', failure.tool, 'Creating the tar archive', failure.error, text);
  }
  report(true);
  return {
    bytes: progress.bytes,
    writtenBytes,
    ...(listFiles ? { files: progress.files ?? 0 } : {}),
    ...(totals ? { totals } : {}),
  };
}

/** Feeds each stderr line of the process to `onLine`. */
function readLines(subprocess: ResultPromise, onLine: (line: string) => void): void {
  let pending = '';
  subprocess.stderr?.on('data', (chunk: Buffer) => {
    pending += chunk.toString();
    const lines = pending.split('\n');
    pending = lines.pop() ?? '';
    for (const line of lines) onLine(line);
  });
  subprocess.stderr?.on('end', () => {
    if (pending !== '') onLine(pending);
  });
}
