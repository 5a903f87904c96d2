import { createReadStream } from 'node:fs';
import { pipeline } from 'node:stream/promises';
import { BpError } from '@bp/api';
import { execa, type ExecaError } from 'execa';
import { extract, type Header } from 'tar-stream';
import { decompressionFlags } from '../restore/container-tar.js';
import { METADATA_TAR_FLAGS } from './directory-reader.js';
import { resolveInside, type FileEntry, type Lookup, type TreeReader } from './file-entry.js';

const DECOMPRESSORS: Record<string, string[]> = {
  '-z': ['gzip', '-dc'],
  '-j': ['bzip2', '-dc'],
  '-J': ['xz', '-dc'],
  '--lzop': ['lzop', '-dc'],
  '--zstd': ['zstd', '-dc'],
};

const TYPES: Record<string, FileEntry['type']> = {
  file: 'file',
  'contiguous-file': 'file',
  directory: 'directory',
  symlink: 'symlink',
  link: 'hardlink',
  fifo: 'fifo',
  'character-device': 'char-device',
  'block-device': 'block-device',
};

function memberPath(name: string): string {
  return name.split('/').filter((part) => part !== '' && part !== '.').join('/');
}

/**
 * A container tar archive browsed without extracting it: one pass over the member headers
 * builds an index (listing), and a restore extracts only the selected members with GNU tar's
 * member selection. The archive has passed the restore path's untrusted-archive checks first.
 */
export class TarReader implements TreeReader {
  private index: Map<string, { entry: FileEntry; member: string }> | undefined;
  private readonly children = new Map<string, Set<string>>();

  constructor(private readonly archive: string) {}

  private async load(signal?: AbortSignal): Promise<Map<string, { entry: FileEntry; member: string }>> {
    if (this.index) return this.index;
    const index = new Map<string, { entry: FileEntry; member: string }>();
    const parser = extract();
    parser.on('entry', (header: Header, stream, next) => {
      const pax = (header.pax ?? {}) as Record<string, string>;
      const member = pax['GNU.sparse.name'] ?? header.name;
      const path = memberPath(member);
      const entry: FileEntry = {
        name: path.split('/').at(-1) ?? '',
        type: TYPES[header.type ?? ''] ?? 'other',
        mode: (header.mode ?? 0) & 0o7777,
        uid: header.uid ?? 0,
        gid: header.gid ?? 0,
        size: Number(pax['GNU.sparse.realsize'] ?? pax['GNU.sparse.size'] ?? header.size ?? 0),
        mtime: (header.mtime ?? new Date(0)).toISOString(),
        ...(header.linkname ? { target: header.linkname } : {}),
      };
      index.set(path, { entry, member });
      const parent = path.includes('/') ? path.slice(0, path.lastIndexOf('/')) : '';
      if (path !== '') {
        if (!this.children.has(parent)) this.children.set(parent, new Set());
        this.children.get(parent)!.add(path);
      }
      stream.on('end', () => next());
      stream.resume();
    });
    const flags = decompressionFlags(this.archive);
    const command = flags[0] === undefined ? undefined : DECOMPRESSORS[flags[0]];
    try {
      if (!command) {
        await pipeline(createReadStream(this.archive, { highWaterMark: 1024 * 1024 }), parser, ...(signal ? [{ signal }] : []));
      } else {
        const child = execa(command[0]!, command.slice(1), { inputFile: this.archive, buffer: false, ...(signal ? { cancelSignal: signal } : {}) });
        await Promise.all([pipeline(child.stdout!, parser), child]);
      }
    } catch (error) {
      throw new BpError('BP_ARCHIVE_FAILED', `reading the member list of ${this.archive} failed: ${(error as Error).message}`, { cause: error });
    }
    this.index = index;
    return index;
  }

  private async lookupIn(index: Map<string, { entry: FileEntry }>, segments: string[]): Promise<Lookup> {
    const path = segments.join('/');
    const found = index.get(path);
    if (!found) return this.children.has(path) ? { kind: 'directory' } : undefined; // a directory without its own member
    if (found.entry.type === 'symlink') return { kind: 'symlink', target: found.entry.target ?? '' };
    return { kind: found.entry.type === 'directory' ? 'directory' : 'other' };
  }

  async list(segments: readonly string[], signal?: AbortSignal): Promise<FileEntry[]> {
    const index = await this.load(signal);
    const resolved = await resolveInside(segments, (parts) => this.lookupIn(index, parts), true, `/${segments.join('/')}`);
    const path = resolved.join('/');
    const own = index.get(path);
    if (own && own.entry.type !== 'directory') return [own.entry];
    return [...(this.children.get(path) ?? [])].sort().map((child) => index.get(child)?.entry ?? directoryEntry(child));
  }

  async extract(segments: readonly string[], targetDir: string, signal?: AbortSignal): Promise<void> {
    const index = await this.load(signal);
    const resolved = await resolveInside(segments, (parts) => this.lookupIn(index, parts), false, `/${segments.join('/')}`);
    const path = resolved.join('/');
    const member = index.get(path)?.member ?? (path === '' ? '.' : `./${path}`);
    // The member lands at its archive path below a stage; strip the leading components so only
    // the selected entry (under its own name) appears in targetDir.
    const depth = Math.max(0, resolved.length - 1) + (member.startsWith('./') || member === '.' ? 1 : 0);
    const args = ['-xpf', this.archive, ...decompressionFlags(this.archive), '-C', targetDir, '--same-owner', ...METADATA_TAR_FLAGS, '--no-wildcards', '--anchored', `--strip-components=${depth}`, '--', member];
    try {
      await execa('tar', args, { stdin: 'ignore', ...(signal ? { cancelSignal: signal } : {}) });
    } catch (error) {
      const failure = error as Partial<ExecaError>;
      if (failure.isCanceled) throw new BpError('BP_ABORTED', `extracting ${path} was aborted`, { cause: error });
      throw new BpError('BP_RESTORE_FAILED', `extracting /${path} from the archive failed: ${String(failure.stderr ?? error).trim()}`, { cause: error });
    }
  }
}

function directoryEntry(path: string): FileEntry {
  return { name: path.split('/').at(-1) ?? '', type: 'directory', mode: 0o755, uid: 0, gid: 0, size: 0, mtime: new Date(0).toISOString() };
}
