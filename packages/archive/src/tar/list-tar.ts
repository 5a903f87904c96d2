import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { BpError, toolError } from '@bp/api';
import { execa } from 'execa';
import { StderrTail } from '../process/stderr-tail.js';
import { compressorFor, type TarCompression } from './compression.js';

/** Kinds of members in GNU tar's listing (the first character of its mode column). */
export type TarMemberType =
  | 'file'
  | 'contiguous-file'
  | 'directory'
  | 'symlink'
  | 'hardlink'
  | 'fifo'
  | 'char-device'
  | 'block-device'
  | 'volume-label'
  | 'multi-volume'
  | 'unknown';

/** One member of a tar archive as GNU tar lists it. */
export interface TarMember {
  type: TarMemberType;
  /** The name exactly as stored (e.g. `./etc/hostname`, or `/etc/passwd` in a hostile archive). */
  name: string;
  /** A symlink's or hard link's target, as stored. */
  target?: string;
  /** Permission bits with setuid, setgid and sticky (`0o7777` at most). */
  mode: number;
  uid: number;
  gid: number;
  /** Bytes of content (a sparse file's full size); 0 for devices and links. */
  size: number;
  /** ISO 8601, UTC. */
  mtime: string;
}

/** Options of {@link listTarArchive}. */
export interface ListTarOptions {
  compression: TarCompression;
  /** tar's decompression flags instead of `compression`'s (e.g. `-J` for the xz archives pct restore accepts). */
  decompressionFlags?: readonly string[];
  /** The code when tar cannot read the archive (default `BP_ARCHIVE_UNSAFE`: an unreadable archive is not to be trusted). */
  failureCode?: 'BP_ARCHIVE_UNSAFE' | 'BP_ARCHIVE_FAILED';
  signal?: AbortSignal;
}

const TYPES: Record<string, TarMemberType> = {
  '-': 'file',
  C: 'contiguous-file',
  d: 'directory',
  l: 'symlink',
  h: 'hardlink',
  p: 'fifo',
  c: 'char-device',
  b: 'block-device',
  V: 'volume-label',
  M: 'multi-volume',
};

/**
 * Lists every member of a tar archive with GNU tar itself (`tar -tv -P`, names C-quoted, numeric
 * owners, UTC times), calling `onMember` in archive order; resolves with the member count. The
 * archive is read by the parser that extracts it, so every format tar writes is understood (old
 * GNU sparse members with extension headers, long names, pax headers) and nothing reads one way
 * here and another way on extraction. An uncompressed archive is listed by seeking over the data.
 *
 * @throws BpError `failureCode` (default `BP_ARCHIVE_UNSAFE`) when tar cannot read the archive;
 *   `BP_ARCHIVE_UNSAFE` when it lists a line that is not a member (the archive is not to be trusted).
 */
export async function listTarArchive(path: string, options: ListTarOptions, onMember: (member: TarMember) => void): Promise<number> {
  const { tarFlag } = compressorFor(options.compression);
  const decompression = options.decompressionFlags ?? (tarFlag ? [tarFlag] : []);
  const stderr = new StderrTail();
  // -P: names exactly as stored (no leading '/' removed); C locale: every non-ASCII byte escaped.
  const args = ['--list', '--verbose', '--numeric-owner', '--full-time', '--quoting-style=c', '-P', ...decompression, '-f', path];
  const tar = execa('tar', args, { stdin: 'ignore', buffer: false, env: { LC_ALL: 'C', TZ: 'UTC' }, ...(options.signal ? { cancelSignal: options.signal } : {}) });
  tar.stderr?.on('data', (chunk: Buffer) => stderr.append(chunk.toString()));
  let members = 0;
  let malformed: string | undefined;
  const lines = createInterface({ input: tar.stdout!, crlfDelay: Number.POSITIVE_INFINITY });
  lines.on('line', (line) => {
    if (malformed !== undefined) return;
    const member = parseListingLine(line);
    if (!member) {
      malformed = line;
      return;
    }
    members++;
    onMember(member);
  });
  const listed = once(lines, 'close');
  try {
    await tar;
    await listed;
  } catch (error) {
    throw toolError(error, { code: options.failureCode ?? 'BP_ARCHIVE_UNSAFE', tool: 'tar', what: `Listing the tar archive ${path}`, stderr: stderr.toString() });
  }
  if (malformed !== undefined) {
    throw new BpError('BP_ARCHIVE_UNSAFE', `Listing the tar archive ${path} gave a line that is not a member: ${JSON.stringify(malformed.slice(0, 200))}; refusing to trust the archive.`, { details: { path } });
  }
  return members;
}

/**
 * Parses one line of `tar -tv --numeric-owner --full-time --quoting-style=c`:
 * `drwxr-xr-x 0/0 0 2026-01-01 00:00:00 "name"`, plus ` -> "target"` or ` link to "target"`.
 * The fields before the name hold no quote, so the name starts at the first one.
 */
export function parseListingLine(line: string): TarMember | undefined {
  const start = line.indexOf('"');
  if (start < 0) return undefined;
  const fields = line.slice(0, start).trim().split(/\s+/);
  const [modeText = '', owner = '', size = '', ...time] = fields;
  const ids = /^(\d+)\/(\d+)$/.exec(owner);
  if (modeText.length !== 10 || !ids || !/^\d+(,\d+)?$/.test(size)) return undefined;
  const name = parseCString(line, start);
  if (!name) return undefined;
  const member: TarMember = {
    type: TYPES[modeText[0]!] ?? 'unknown',
    name: name.value,
    mode: permissionBits(modeText),
    uid: Number(ids[1]),
    gid: Number(ids[2]),
    size: size.includes(',') ? 0 : Number(size),
    mtime: isoTime(time),
  };
  const rest = line.slice(name.end);
  if (rest === '') return member;
  const link = /^(?: -> | link to )"/.exec(rest);
  if (link) {
    const target = parseCString(rest, link[0].length - 1);
    if (target && target.end === rest.length) return { ...member, target: target.value };
    return undefined;
  }
  // Volume labels and continuations carry a note after the name.
  return member.type === 'volume-label' || member.type === 'multi-volume' ? member : undefined;
}

const PERMISSIONS: [index: number, read: number, write: number, execute: number, special: number, specialChar: string][] = [
  [1, 0o400, 0o200, 0o100, 0o4000, 's'],
  [4, 0o40, 0o20, 0o10, 0o2000, 's'],
  [7, 0o4, 0o2, 0o1, 0o1000, 't'],
];

/** `rwsr-xr-T`-style permissions to bits. */
function permissionBits(modeText: string): number {
  let mode = 0;
  for (const [index, read, write, execute, special, specialChar] of PERMISSIONS) {
    if (modeText[index] === 'r') mode |= read;
    if (modeText[index + 1] === 'w') mode |= write;
    const x = modeText[index + 2];
    if (x === 'x' || x === specialChar) mode |= execute;
    if (x === specialChar || x === specialChar.toUpperCase()) mode |= special;
  }
  return mode;
}

/** `2026-01-01 00:00:00` (UTC) to ISO; tar prints a bare number of seconds for times it cannot format. */
function isoTime(parts: readonly string[]): string {
  if (parts.length === 2 && /^\d{4,}-\d\d-\d\d$/.test(parts[0]!) && /^\d\d:\d\d:\d\d$/.test(parts[1]!)) {
    const date = new Date(`${parts[0]}T${parts[1]}Z`);
    if (!Number.isNaN(date.getTime())) return date.toISOString();
  }
  const seconds = parts.length === 1 ? Number(parts[0]) : Number.NaN;
  const date = new Date(Number.isFinite(seconds) ? seconds * 1000 : 0);
  return Number.isNaN(date.getTime()) ? new Date(0).toISOString() : date.toISOString();
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
