import { createReadStream } from 'node:fs';
import { open } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { BpError, type LogFunction, toolError } from '@bp/api';
import { createRateLimitStream } from '@bp/api/rate-limit';
import { COMMON_TAR_FLAGS, compressionFromFileName, EXTRACT_TAR_FLAGS, execaInUserNamespace, isClosedByReader, listTarArchive, TarSafetyCheck, type TarMemberType } from '@bp/archive';
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

const SBIN = /^\/*(?:\.\/)?sbin\/?$/;
const SBIN_TYPES = new Set<TarMemberType>(['directory', 'symlink', 'hardlink']);

/**
 * Every check of an untrusted container archive before anything is written, from one listing by
 * GNU tar (@bp/archive `listTarArchive`). First PVE's (pve-container `restore_external_archive`):
 * the listing must succeed, have at least 10 members, contain `sbin` (directory, symlink or hard
 * link) and no multi-volume member. Then bp's member rules (@bp/archive `TarSafetyCheck`):
 * absolute or `..` names, hard links out of the root, members below a symlink of the archive and
 * unknown member types are refused. Device members are left to tar (the user namespace cannot
 * create them), as in PVE. Archives in a compression the member rules are not applied to (bz2,
 * xz, lzo) rely on PVE's checks and the namespace alone.
 */
export async function checkUntrustedTar(path: string, signal?: AbortSignal): Promise<void> {
  const flags = decompressionFlags(path);
  const safety = hasScannedCompression(path) ? new TarSafetyCheck(true) : undefined;
  let multiVolume = false;
  let sbin = false;
  const members = await listTarArchive(
    path,
    { compression: 'none', decompressionFlags: flags, failureCode: 'BP_ARCHIVE_FAILED', ...(signal ? { signal } : {}) },
    (member) => {
      if (member.type === 'multi-volume') multiVolume = true;
      if (SBIN_TYPES.has(member.type) && SBIN.test(member.name)) sbin = true;
      safety?.see(member);
    },
  );
  if (multiVolume) throw new BpError('BP_ARCHIVE_UNSAFE', `archive '${path}' is a multi-volume archive, which is not supported`);
  if (members < 10) throw new BpError('BP_ARCHIVE_UNSAFE', `archive '${path}' has only ${members} members; a container archive has at least 10`);
  if (!sbin) throw new BpError('BP_ARCHIVE_UNSAFE', `archive '${path}' has no 'sbin'; it does not look like a container root filesystem`);
  const unsafe = safety?.unsafe ?? [];
  if (unsafe.length > 0) {
    const listed = unsafe.slice(0, 5).map((member) => `${member.name}: ${member.reason}`).join('; ');
    throw new BpError('BP_ARCHIVE_UNSAFE', `archive '${path}' has ${unsafe.length} unsafe member(s) (${listed}); refusing to restore it`, {
      details: { unsafe: unsafe.slice(0, 100) },
    });
  }
}

/** True for the compressions @bp/archive writes (none, gzip, zstd). */
function hasScannedCompression(path: string): boolean {
  try {
    compressionFromFileName(path);
    return true;
  } catch {
    return false;
  }
}

/** Options of {@link extractIntoRoot}. */
export interface ExtractOptions {
  /**
   * The tar stream (possibly compressed, see `decompression`): an archive file, which tar reads
   * itself through an inherited descriptor unless a bandwidth limit paces it (a copy through this
   * process costs more than tar's whole extraction), or a stream opened only once the extraction
   * is ready to read, so no data flows before anyone consumes it.
   */
  input: { file: string } | { open: () => Readable };
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
  const source = options.input;
  let input: Readable | undefined;
  // Opened here, as root: the namespaced tar only inherits the descriptor.
  const file = 'file' in source && !options.bwlimitKiB ? await open(source.file, 'r') : undefined;
  try {
    const { subprocess: child } = await execaInUserNamespace('tar', tarArgs, options.idMap, { stdin: file ? file.fd : 'pipe', ...(options.signal ? { cancelSignal: options.signal } : {}) } as Options);
    input = file ? undefined : 'file' in source ? createReadStream(source.file) : source.open();
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
