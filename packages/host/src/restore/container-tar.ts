import { createReadStream } from 'node:fs';
import { open } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { BpError, type LogFunction, toolError } from '@bp/api';
import { createRateLimitStream } from '@bp/api/rate-limit';
import { COMMON_TAR_FLAGS, compressionFromFileName, EXTRACT_TAR_FLAGS, execaInUserNamespace, isClosedByReader, scanTarArchive, type TarCompression } from '@bp/archive';
import { execa, type ExecaError, type Options } from 'execa';
import type { IdMapEntry } from '../userns/index.js';


const COMPRESSION: ReadonlyArray<[RegExp, string[]]> = [
  [/\.tar$/, []],
  [/\.tar\.gz$/, ['-z']],
  [/\.tar\.bz2$/, ['-j']],
  [/\.tar\.xz$/, ['-J']],
  [/\.tar\.lzo$/, ['--lzop']],
  [/\.tar\.zst$/, ['--zstd']],
];

/** The decompression flag chosen by file name, as PVE does for untrusted archives (never by content). */
export function decompressionFlags(path: string): string[] {
  const match = COMPRESSION.find(([pattern]) => pattern.test(path));
  if (!match) {
    throw new BpError('BP_ARCHIVE_UNSAFE', `file '${path}' does not look like a template archive; the provider must return a .tar, .tar.gz, .tar.bz2, .tar.xz, .tar.lzo or .tar.zst path`);
  }
  return match[1];
}

function tarError(error: unknown, what: string): BpError {
  return toolError(error, { code: 'BP_ARCHIVE_FAILED', tool: 'tar', what });
}

// `tar -tv` line: type+mode, owner/group, size (or major,minor), date, time, name.
const LISTING_LINE = /^(\S)\S*\s+\S+\s+\S+\s+\S+\s+\S+\s+(.*)$/;
const SBIN = /^(?:\.\/)?sbin\/?(?: -> .*| link to .*)?$/;

/**
 * PVE's checks of an untrusted container archive (pve-container `restore_external_archive`): the
 * listing must succeed, have at least 10 members, contain `sbin` (directory, symlink or hard
 * link) and no multi-volume member.
 */
export async function checkUntrustedTar(path: string, signal?: AbortSignal): Promise<void> {
  const flags = decompressionFlags(path);
  let stdout: string;
  try {
    ({ stdout } = await execa('tar', ['-tv', ...flags, '-f', path], { maxBuffer: 512 * 1024 * 1024, ...(signal ? { cancelSignal: signal } : {}) }));
  } catch (error) {
    throw tarError(error, `listing archive '${path}'`);
  }
  let members = 0;
  let sbin = false;
  for (const line of stdout.split('\n')) {
    const match = LISTING_LINE.exec(line);
    if (!match) continue;
    members += 1;
    const [, type = '', name = ''] = match;
    if (type === 'M') throw new BpError('BP_ARCHIVE_UNSAFE', `archive '${path}' is a multi-volume archive, which is not supported`);
    if ((type === 'd' || type === 'l' || type === 'h') && SBIN.test(name)) sbin = true;
  }
  if (members < 10) throw new BpError('BP_ARCHIVE_UNSAFE', `archive '${path}' has only ${members} members; a container archive has at least 10`);
  if (!sbin) throw new BpError('BP_ARCHIVE_UNSAFE', `archive '${path}' has no 'sbin'; it does not look like a container root filesystem`);
}

/**
 * Beyond PVE's checks: every member header is read (@bp/archive `scanTarArchive`) and absolute or
 * `..` names, hard links out of the root, members below a symlink of the archive and unknown
 * member types are refused before anything is written. Device members are left to tar (the
 * user namespace cannot create them), as in PVE. Archives in a compression the scanner does not
 * read (bz2, xz, lzo) rely on PVE's checks and the namespace alone.
 */
export async function scanUntrustedTar(path: string, signal?: AbortSignal): Promise<void> {
  let compression: TarCompression;
  try {
    compression = compressionFromFileName(path);
  } catch {
    return;
  }
  const scan = await scanTarArchive(path, { compression, allowDevices: true, ...(signal ? { signal } : {}) });
  if (scan.unsafe.length > 0) {
    const listed = scan.unsafe.slice(0, 5).map((member) => `${member.name}: ${member.reason}`).join('; ');
    throw new BpError('BP_ARCHIVE_UNSAFE', `archive '${path}' has ${scan.unsafe.length} unsafe member(s) (${listed}); refusing to restore it`, {
      details: { unsafe: scan.unsafe.slice(0, 100) },
    });
  }
}

/** Options of {@link extractIntoRoot}. */
export interface ExtractOptions {
  /**
   * Opens the tar stream (possibly compressed, see `decompression`); called only once the
   * extraction is ready to read, so no data flows before anyone consumes it.
   */
  openInput: () => Readable;
  /**
   * The archive file behind `openInput`, if it is one: without a bandwidth limit tar then reads it
   * itself through an inherited descriptor (a copy through this process costs more than tar's
   * whole extraction).
   */
  inputFile?: string;
  decompression: readonly string[];
  targetRoot: string;
  idMap: readonly IdMapEntry[];
  bwlimitKiB?: number;
  /** `--ignore-unpack-errors`: extraction errors only warn. */
  ignoreUnpackErrors?: boolean;
  log: LogFunction;
  signal?: AbortSignal;
}

/**
 * PVE's extraction of a container archive: `tar xpf - --totals <COMMON_TAR_FLAGS> -C <root>
 * --skip-old-files --anchored --exclude ./dev/*` as root of the container's user namespace, so
 * owners land shifted and nothing can be written where the mapped root may not write.
 */
export async function extractIntoRoot(options: ExtractOptions): Promise<void> {
  const tarArgs = ['xpf', '-', '--totals', ...EXTRACT_TAR_FLAGS, ...options.decompression, '-C', options.targetRoot];
  let input: Readable | undefined;
  // Opened here, as root: the namespaced tar only inherits the descriptor.
  const file = options.inputFile !== undefined && !options.bwlimitKiB ? await open(options.inputFile, 'r') : undefined;
  try {
    const { subprocess: child } = await execaInUserNamespace('tar', tarArgs, options.idMap, { stdin: file ? file.fd : 'pipe', ...(options.signal ? { cancelSignal: options.signal } : {}) } as Options);
    input = file ? undefined : options.openInput();
    const feeding = !input
      ? Promise.resolve()
      : options.bwlimitKiB
        ? pipeline(input, createRateLimitStream(options.bwlimitKiB * 1024, options.signal ? { signal: options.signal } : {}), child.stdin!)
        : pipeline(input, child.stdin!);
    const [fed, extracted] = await Promise.allSettled([feeding, child]);
    if (extracted.status === 'rejected') {
      const error = tarError(extracted.reason, 'extracting the container archive');
      if (!options.ignoreUnpackErrors || error.code === 'BP_ABORTED') throw error;
      options.log('warn', error.message);
    } else {
      for (const line of String(extracted.value.stderr).split('\n')) if (line.trim() !== '') options.log('info', line);
    }
    if (fed.status === 'rejected' && extracted.status === 'fulfilled' && !isClosedByReader(fed.reason)) {
      throw tarError(fed.reason, 'reading the container archive');
    }
  } finally {
    input?.destroy();
    await file?.close();
  }
}

/** A privileged tar that was cut off by its reader (see {@link isClosedByReader}). */
export function isBrokenPipe(error: unknown): boolean {
  const cause = BpError.isInstance(error) ? error.cause : error;
  return (cause as Partial<ExecaError> | undefined)?.signal === 'SIGPIPE' || isClosedByReader(cause);
}

/** The archive file as a stream, for {@link extractIntoRoot}. */
export function archiveFileStream(path: string): Readable {
  return createReadStream(path);
}

/**
 * A privileged `tar cpf - <COMMON_TAR_FLAGS> --directory=<dir> .` of a provider's directory
 * (mechanism `directory`), to feed the same namespaced extraction. Returns the stream and the
 * process to await.
 */
export function directoryTarStream(directory: string, signal?: AbortSignal): { stream: Readable; done: Promise<unknown> } {
  const child = execa('tar', ['cpf', '-', ...COMMON_TAR_FLAGS, `--directory=${directory}`, '.'], {
    stdout: 'pipe',
    buffer: { stdout: false },
    ...(signal ? { cancelSignal: signal } : {}),
  });
  const done = child.catch((error: unknown) => {
    throw tarError(error, `archiving directory '${directory}'`);
  });
  return { stream: child.stdout!, done };
}
