import { BpError } from '@bp/api';
import { listTarArchive, type TarMember, type TarMemberType } from '@bp/archive';
import { execa, type ExecaError } from 'execa';
import { decompressionFlags } from '../restore/container-tar.js';
import { METADATA_TAR_FLAGS } from './directory-reader.js';
import { resolveInside, type FileEntry, type Lookup, type TreeReader } from './file-entry.js';

const TYPES: Record<TarMemberType, FileEntry['type']> = {
  file: 'file',
  'contiguous-file': 'file',
  directory: 'directory',
  symlink: 'symlink',
  hardlink: 'hardlink',
  fifo: 'fifo',
  'char-device': 'char-device',
  'block-device': 'block-device',
  'volume-label': 'other',
  'multi-volume': 'other',
  unknown: 'other',
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
    const add = (member: TarMember): void => {
      const path = memberPath(member.name);
      const entry: FileEntry = {
        name: path.split('/').at(-1) ?? '',
        type: TYPES[member.type],
        mode: member.mode,
        uid: member.uid,
        gid: member.gid,
        size: member.size,
        mtime: member.mtime,
        ...(member.target !== undefined ? { target: member.target } : {}),
      };
      index.set(path, { entry, member: member.name });
      const parent = path.includes('/') ? path.slice(0, path.lastIndexOf('/')) : '';
      if (path !== '') {
        if (!this.children.has(parent)) this.children.set(parent, new Set());
        this.children.get(parent)!.add(path);
      }
    };
    try {
      // GNU tar's own listing: every format it extracts (old GNU sparse members included), seeking over data.
      await listTarArchive(this.archive, { compression: 'none', decompressionFlags: decompressionFlags(this.archive), ...(signal ? { signal } : {}) }, add);
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
