import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { BpError, toolError } from '@bp/api';
import { execa } from 'execa';
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

/** Member types of GNU tar's listing (the first character of the mode column) that may be extracted. */
const SAFE_TYPES = new Set(['-', 'd', 'l', 'h', 'p', 'C']);
const DEVICE_TYPES = new Map([['c', 'character-device'], ['b', 'block-device']]);
const TYPE_NAMES: Record<string, string> = { M: 'multi-volume continuation', V: 'volume label', '?': 'unknown' };

/**
 * Lists every member of an untrusted tar archive (without extracting anything) and reports the
 * members that could escape the root or are not allowed: absolute names, `..` components, hard
 * links outside the root, members below a symlink of the archive, devices (unless allowed) and
 * member types tar would not extract as such (multi-volume, volume labels, unknown types).
 *
 * The listing is GNU tar's own (`tar -tv`, names C-quoted and verbatim): the archive is judged by
 * the same parser that extracts it, so no member can read one way here and another way there,
 * and every format tar writes (GNU sparse files, long names, pax headers) is understood. An
 * uncompressed archive is listed by seeking past the member data.
 */
export async function scanTarArchive(path: string, options: ScanTarOptions): Promise<TarScan> {
  const unsafe: UnsafeMember[] = [];
  const symlinks = new Set<string>();
  let members = 0;
  const inspect = (member: ListedMember): void => {
    members++;
    const reason = unsafePathReason(member.name);
    if (reason) unsafe.push({ name: member.name, reason });
    const name = normalizeMemberPath(member.name);
    if (member.type === 'h' && member.target !== undefined) {
      const targetReason = unsafePathReason(member.target);
      if (targetReason) unsafe.push({ name, reason: `hard link target ${targetReason}` });
    }
    const device = DEVICE_TYPES.get(member.type);
    if (device && !options.allowDevices) unsafe.push({ name, reason: `${device} not allowed` });
    else if (!device && !SAFE_TYPES.has(member.type)) unsafe.push({ name, reason: `unsupported member type ${TYPE_NAMES[member.type] ?? member.type}` });
    const parts = name.split('/');
    for (let length = 1; length < parts.length; length++) {
      const parent = parts.slice(0, length).join('/');
      if (symlinks.has(parent)) {
        unsafe.push({ name, reason: `below symlink ${parent}` });
        break;
      }
    }
    if (member.type === 'l') symlinks.add(name);
    else symlinks.delete(name);
  };

  const { tarFlag } = compressorFor(options.compression);
  const stderr = new StderrTail();
  // -P: names exactly as stored (no leading '/' removed); C locale: every non-ASCII byte escaped.
  const args = ['--list', '--verbose', '--numeric-owner', '--full-time', '--quoting-style=c', '-P', ...(tarFlag ? [tarFlag] : []), '-f', path];
  const tar = execa('tar', args, { stdin: 'ignore', buffer: false, env: { LC_ALL: 'C' }, ...(options.signal ? { cancelSignal: options.signal } : {}) });
  tar.stderr?.on('data', (chunk: Buffer) => stderr.append(chunk.toString()));
  let malformed: string | undefined;
  const lines = createInterface({ input: tar.stdout!, crlfDelay: Number.POSITIVE_INFINITY });
  lines.on('line', (line) => {
    if (malformed !== undefined) return;
    const member = parseListingLine(line);
    if (member) inspect(member);
    else malformed = line;
  });
  const listed = once(lines, 'close');
  try {
    await tar;
    await listed;
  } catch (error) {
    throw toolError(error, { code: 'BP_ARCHIVE_UNSAFE', tool: 'tar', what: `Listing the tar archive ${path}`, stderr: stderr.toString() });
  }
  if (malformed !== undefined) {
    throw new BpError('BP_ARCHIVE_UNSAFE', `Listing the tar archive ${path} gave a line that is not a member: ${JSON.stringify(malformed.slice(0, 200))}; refusing to trust the archive.`, { details: { path } });
  }
  return { members, unsafe };
}

/** One member as GNU tar lists it. */
interface ListedMember {
  /** First character of the mode column: `-`, `d`, `l`, `h`, `c`, `b`, `p`, `C`, `M`, `V`, `?`. */
  type: string;
  name: string;
  /** A symlink's or hard link's target. */
  target?: string;
}

/**
 * Parses `drwxr-xr-x 0/0 0 2026-01-01 00:00:00 "name"` (+ ` -> "target"` or ` link to "target"`):
 * the fields before the name hold no quote, so the name starts at the first one.
 */
export function parseListingLine(line: string): ListedMember | undefined {
  const type = line[0];
  const start = line.indexOf('"');
  if (type === undefined || start < 0) return undefined;
  const name = parseCString(line, start);
  if (!name) return undefined;
  const rest = line.slice(name.end);
  if (rest === '') return { type, name: name.value };
  const arrow = / -> "|^ link to "/.exec(rest);
  if (arrow?.index === 0) {
    const target = parseCString(rest, arrow[0].length - 1);
    if (target && target.end === rest.length) return { type, name: name.value, target: target.value };
  }
  // Volume labels and continuations carry a note after the name; their type is refused anyway.
  return type === 'V' || type === 'M' ? { type, name: name.value } : undefined;
}

const ESCAPES: Record<string, number> = { a: 7, b: 8, f: 12, n: 10, r: 13, t: 9, v: 11, '\\': 92, '"': 34, '?': 63 };

/** A C string literal starting at `start` (the opening quote): its bytes as UTF-8 text and the index after it. */
function parseCString(text: string, start: number): { value: string; end: number } | undefined {
  const bytes: number[] = [];
  for (let index = start + 1; index < text.length; index++) {
    const char = text[index]!;
    if (char === '"') return { value: Buffer.from(bytes).toString('utf8'), end: index + 1 };
    if (char !== '\\') {
      bytes.push(char.charCodeAt(0));
      continue;
    }
    const next = text[index + 1];
    if (next === undefined) return undefined;
    const octal = /^[0-7]{1,3}/.exec(text.slice(index + 1, index + 4));
    if (octal) {
      bytes.push(Number.parseInt(octal[0], 8) & 0xff);
      index += octal[0].length;
    } else if (next in ESCAPES) {
      bytes.push(ESCAPES[next]!);
      index += 1;
    } else return undefined;
  }
  return undefined;
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
