import { fstat } from 'node:fs';
import { stat } from 'node:fs/promises';
import { Transform, type Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { BpError, toolError } from '@bp/api';
import { createRateLimitStream } from '@bp/api/rate-limit';
import { execa, type Options } from 'execa';
import type { CompiledExclusions } from '../exclusions/index.js';
import { resolveExclusions } from '../exclusions/compile-exclusions.js';
import { StderrTail } from '../process/stderr-tail.js';
import { normalizeSources } from '../sources.js';
import { writeFileAtomically } from '../stream/atomic-file.js';
import { compressorFor, type TarCompression } from './compression.js';
import { CREATE_TAR_FLAGS } from './tar-flags.js';
import { TarStderr } from './tar-stderr.js';

/** Progress of an archive creation. */
export interface ArchiveProgress {
  /**
   * Uncompressed archive bytes produced so far. When tar writes a compressed file directly, only
   * at the end (the file's size is the compressed one).
   */
  bytes: number;
  /** Members archived so far. */
  files: number;
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
  /**
   * A file path (written under a temporary name next to it, flushed, renamed; never replaces an
   * existing file) or a writable stream such as an upload (ended on success, destroyed on failure).
   */
  output: string | Writable;
  /** Default `'none'`. */
  compression?: TarCompression;
  /** Bytes per second of the uncompressed tar stream (vzdump's `bandwidth-limit`); 0 = unlimited. */
  bandwidthLimit?: number;
  /** Called at most every 200 ms and once at the end. Turns on tar's per-file listing. */
  onProgress?: (progress: ArchiveProgress) => void;
  /**
   * When given, tar's exit status 1 (a file changed or shrank while being read: the archive is
   * complete, vzdump accepts it too) is not a failure: the archive is kept and this receives
   * tar's diagnostics. Without it, exit status 1 fails like any other.
   */
  onFilesChanged?: (diagnostics: string) => void;
  /**
   * With a file `output`: called with the path the archive is written to (a temporary name next
   * to the output, renamed when complete) before anything is written, so a reader can follow the
   * archive as it grows (e.g. to checksum it without reading it again afterwards).
   */
  onOutputFile?: (path: string) => void;
  signal?: AbortSignal;
}

/** What {@link createTarArchive} produced. */
export interface CreateTarResult {
  /** Uncompressed tar bytes. */
  bytes: number;
  /** Bytes written to the output (after compression). */
  writtenBytes: number;
  /** Members archived (counted when `onProgress` was given, else 0). */
  files: number;
  /** tar's `--totals` line, e.g. "Total bytes written: 10240 (10KiB, 20MiB/s)". */
  totals: string;
}

const PROGRESS_INTERVAL_MS = 200;

/**
 * Archives a container tree the way vzdump does (`tar cpf - --totals --one-file-system -p
 * --sparse --numeric-owner --acls --xattrs ...`), with exclusions, optional compression and a
 * bandwidth limit on the uncompressed stream. Works for any user that can read the tree and
 * write the output's directory (the temporary file is created next to the output).
 *
 * An unthrottled file output is written by tar (and the compressor) directly, so it costs no
 * more than plain tar; a stream output or a bandwidth limit routes the data through this process.
 *
 * @throws BpError `BP_ARCHIVE_FAILED` (with tar's stderr) when tar, the compressor or the output
 *   fails; a file output is then removed. `BP_ALREADY_EXISTS` if the output file exists.
 *   `BP_INVALID_ARGUMENT` for bad sources or patterns. `BP_ABORTED` when `signal` fires.
 */
export async function createTarArchive(options: CreateTarOptions): Promise<CreateTarResult> {
  const sources = normalizeSources(options.sources);
  const exclusions = resolveExclusions(options.exclude, options.standardExclusions);
  const compressor = compressorFor(options.compression ?? 'none');
  const args = [
    'cpf',
    '-',
    '--totals',
    ...CREATE_TAR_FLAGS,
    `--directory=${options.directory}`,
    ...(options.onProgress ? ['--verbose'] : []),
    ...exclusions.tarArguments,
    ...sources,
  ];
  const output = options.output;
  if (typeof output !== 'string') return runThroughStream(args, compressor.compress, output, options);
  if (options.bandwidthLimit) {
    return writeFileAtomically(output, (stream, temporaryPath) => {
      options.onOutputFile?.(temporaryPath);
      return runThroughStream(args, compressor.compress, stream, options);
    });
  }
  const directArgs = compressor.tarFlag ? [...args.slice(0, 3), compressor.tarFlag, ...args.slice(3)] : args;
  return writeFileAtomically(output, (stream, temporaryPath) => {
    options.onOutputFile?.(temporaryPath);
    return runIntoFile(directArgs, stream.fd, temporaryPath, options);
  });
}

function progressReporter(options: CreateTarOptions, progress: ArchiveProgress): (force: boolean) => void {
  let last = 0;
  return (force) => {
    const now = performance.now();
    if (!options.onProgress || (!force && now - last < PROGRESS_INTERVAL_MS)) return;
    last = now;
    options.onProgress({ ...progress });
  };
}

/** tar inherits the file as its stdout and writes the (compressed) archive itself: no copy through this process. */
async function runIntoFile(args: string[], fd: number, path: string, options: CreateTarOptions): Promise<CreateTarResult> {
  const progress: ArchiveProgress = { bytes: 0, files: 0 };
  const report = progressReporter(options, progress);
  const stderr = new TarStderr(() => {
    progress.files++;
    report(false);
  });
  // A stdio array passes the descriptor to the child as is (a `stdout` option would pipe through Node).
  const tar = execa('tar', args, { stdio: ['ignore', fd, 'pipe'], buffer: false, ...(options.signal ? { cancelSignal: options.signal } : {}) } as Options);
  tar.stderr?.on('data', (chunk: Buffer) => stderr.push(chunk));
  // The bytes never pass through here: an uncompressed archive's size on disk is its progress.
  const sizePoll =
    options.onProgress && (options.compression ?? 'none') === 'none'
      ? setInterval(() => {
          fstat(fd, (error, info) => {
            if (error || info.size <= progress.bytes) return;
            progress.bytes = info.size;
            report(false);
          });
        }, PROGRESS_INTERVAL_MS).unref()
      : undefined;
  let changed: boolean;
  try {
    changed = await tarExit(tar, options);
  } catch (error) {
    stderr.end();
    throw failure(options, 'tar', error, stderr.diagnostics.toString());
  } finally {
    clearInterval(sizePoll);
  }
  stderr.end();
  if (changed) options.onFilesChanged?.(stderr.diagnostics.toString());
  progress.bytes = stderr.totalBytes ?? 0;
  report(true);
  return { bytes: progress.bytes, writtenBytes: (await stat(path)).size, files: stderr.files, totals: stderr.totals ?? '' };
}

/** tar's stdout flows through this process: rate limit, optional compressor, any Writable. */
async function runThroughStream(args: string[], compressCommand: readonly string[], destination: Writable, options: CreateTarOptions): Promise<CreateTarResult> {
  const controller = new AbortController();
  const signal = options.signal ? AbortSignal.any([options.signal, controller.signal]) : controller.signal;
  const progress: ArchiveProgress = { bytes: 0, files: 0 };
  const report = progressReporter(options, progress);
  const stderr = new TarStderr(() => {
    progress.files++;
    report(false);
  });
  const tar = execa('tar', args, { stdin: 'ignore', buffer: false, cancelSignal: signal, encoding: 'buffer' });
  tar.stderr?.on('data', (chunk: Buffer) => stderr.push(chunk));
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
  const compress = compressCommand.length > 0 ? execa(compressCommand[0]!, compressCommand.slice(1), { buffer: false, cancelSignal: signal }) : undefined;
  const compressStderr = new StderrTail();
  compress?.stderr?.on('data', (chunk: Buffer) => compressStderr.append(chunk.toString()));

  // The first failure names the tool to blame; the others are consequences of the abort.
  let first: { tool: string; error: unknown } | undefined;
  const watch = (tool: string, stage: Promise<unknown>): Promise<unknown> =>
    stage.catch((error: unknown) => {
      first ??= { tool, error };
      controller.abort();
    });
  const limiter = createRateLimitStream(options.bandwidthLimit);
  let changed = false;
  const tarDone = tarExit(tar, options).then((exitedOne) => {
    changed = exitedOne;
  });
  await Promise.all(
    compress
      ? [
          watch('tar', tarDone),
          watch(compressCommand[0]!, compress),
          watch('tar', pipeline(tar.stdout!, counter, limiter, compress.stdin!)),
          watch('output', pipeline(compress.stdout!, countWritten, destination)),
        ]
      : [watch('tar', tarDone), watch('output', pipeline(tar.stdout!, counter, limiter, countWritten, destination))],
  );
  stderr.end();
  if (first) {
    destination.destroy();
    const text = first.tool === 'tar' ? stderr.diagnostics.toString() : first.tool === 'output' ? '' : compressStderr.toString();
    throw failure(options, first.tool, first.error, text);
  }
  if (changed) options.onFilesChanged?.(stderr.diagnostics.toString());
  report(true);
  return { bytes: progress.bytes, writtenBytes, files: stderr.files, totals: stderr.totals ?? '' };
}

/**
 * Waits for tar; resolves true when it exited 1 and the caller accepts changed files
 * ({@link CreateTarOptions.onFilesChanged}), false on success; rejects on any other failure.
 */
async function tarExit(tar: Promise<unknown>, options: CreateTarOptions): Promise<boolean> {
  try {
    await tar;
    return false;
  } catch (error) {
    const exitCode = (error as { exitCode?: unknown }).exitCode;
    if (exitCode !== 1 || !options.onFilesChanged || options.signal?.aborted) throw error;
    return true;
  }
}

function failure(options: CreateTarOptions, tool: string, error: unknown, stderr: string): BpError {
  if (options.signal?.aborted) return new BpError('BP_ABORTED', 'Creating the tar archive was aborted.', { cause: error });
  return toolError(error, { code: 'BP_ARCHIVE_FAILED', tool, what: 'Creating the tar archive', stderr });
}
