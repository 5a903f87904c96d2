import { createReadStream } from 'node:fs';
import { pipeline } from 'node:stream/promises';
import { BpError, toolError } from '@bp/api';
import { execa } from 'execa';
import { extract, type Header } from 'tar-stream';
import { StderrTail } from '../process/stderr-tail.js';
import { compressorFor, type TarCompression } from './compression.js';
import { normalizeMemberPath, unsafePathReason } from './member-path.js';

/** One member that must not be extracted, and why. */
export interface UnsafeMember {
  name: string;
  reason: string;
}

/** Options of {@link scanTarArchive}. */
export interface ScanTarOptions {
  compression: TarCompression;
  /** Accept character and block devices (a privileged restore); default false. */
  allowDevices?: boolean;
  signal?: AbortSignal;
}

/** What {@link scanTarArchive} found. */
export interface TarScan {
  members: number;
  unsafe: UnsafeMember[];
}

const SAFE_TYPES = new Set(['file', 'contiguous-file', 'directory', 'symlink', 'link', 'fifo']);
const DEVICE_TYPES = new Set(['character-device', 'block-device']);

/**
 * Reads every member header of an untrusted tar archive (without extracting anything) and
 * lists the members that could escape the root or are not allowed: absolute names, `..`
 * components, hard links outside the root, members below a symlink of the archive, devices
 * (unless allowed) and member types tar-stream does not know (multi-volume, old GNU sparse...).
 */
export async function scanTarArchive(path: string, options: ScanTarOptions): Promise<TarScan> {
  const unsafe: UnsafeMember[] = [];
  const symlinks = new Set<string>();
  let members = 0;
  const inspect = (header: Header): void => {
    members++;
    const pax = (header.pax ?? undefined) as Record<string, string> | undefined;
    const names = [header.name, pax?.['GNU.sparse.name']].filter((name): name is string => typeof name === 'string');
    for (const name of names) {
      const reason = unsafePathReason(name);
      if (reason) unsafe.push({ name, reason });
    }
    const name = normalizeMemberPath(pax?.['GNU.sparse.name'] ?? header.name);
    const type = (header.type as string | null | undefined) ?? 'unknown';
    if (type === 'link' && header.linkname) {
      const reason = unsafePathReason(header.linkname);
      if (reason) unsafe.push({ name, reason: `hard link target ${reason}` });
    }
    if (DEVICE_TYPES.has(type) && !options.allowDevices) unsafe.push({ name, reason: `${type} not allowed` });
    else if (!SAFE_TYPES.has(type) && !DEVICE_TYPES.has(type)) unsafe.push({ name, reason: `unsupported member type ${type}` });
    const parts = name.split('/');
    for (let length = 1; length < parts.length; length++) {
      const parent = parts.slice(0, length).join('/');
      if (symlinks.has(parent)) {
        unsafe.push({ name, reason: `below symlink ${parent}` });
        break;
      }
    }
    if (type === 'symlink') symlinks.add(name);
    else symlinks.delete(name);
  };

  const parser = extract();
  parser.on('entry', (header, stream, next) => {
    inspect(header);
    stream.on('end', () => next());
    stream.resume();
  });
  const compressor = compressorFor(options.compression);
  const stderr = new StderrTail();
  try {
    if (compressor.decompress.length === 0) {
      await pipeline(createReadStream(path, { highWaterMark: 1024 * 1024 }), parser, { signal: options.signal });
    } else {
      const [command, ...args] = compressor.decompress;
      const decompress = execa(command!, args, { inputFile: path, buffer: false, ...(options.signal ? { cancelSignal: options.signal } : {}) });
      decompress.stderr?.on('data', (chunk: Buffer) => stderr.append(chunk.toString()));
      await Promise.all([pipeline(decompress.stdout!, parser), decompress]);
    }
  } catch (error) {
    if (BpError.isInstance(error)) throw error;
    throw toolError(error, { code: 'BP_ARCHIVE_UNSAFE', tool: compressor.decompress[0] ?? 'tar-stream', what: `Reading the tar archive ${path}`, stderr: stderr.toString() });
  }
  return { members, unsafe };
}

/** Throws `BP_ARCHIVE_UNSAFE` listing the first unsafe members when the scan found any. */
export function assertSafeScan(path: string, scan: TarScan): void {
  if (scan.unsafe.length === 0) return;
  const shown = scan.unsafe
    .slice(0, 5)
    .map((member) => `${member.name} (${member.reason})`)
    .join(', ');
  throw new BpError('BP_ARCHIVE_UNSAFE', `Refusing to extract ${path}: ${scan.unsafe.length} unsafe member(s): ${shown}. The archive was not extracted.`, {
    details: { path, unsafe: scan.unsafe.slice(0, 100) },
  });
}
