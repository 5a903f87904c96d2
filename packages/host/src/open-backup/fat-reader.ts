import { BpError } from '@bp/api';
import { pathSegments, type FileEntry, type TreeReader } from './file-entry.js';
import { runTool } from './run-tool.js';

// `mdir` line: 8.3 name, size or <DIR>, date, time, then the long name if there is one.
const MDIR_LINE = /^(.{8}) (.{3}) +(<DIR>|\d+) +(\d{4})-(\d\d)-(\d\d) +(\d{1,2}):(\d\d) ?(?: (.+))?$/;

/** Environment for mtools: no geometry sanity check (images of any size), no config file drives. */
const MTOOLS_ENV = { MTOOLS_SKIP_CHECK: '1', MTOOLSRC: '/dev/null', LC_ALL: 'C.UTF-8' };

/**
 * A FAT filesystem read in userspace with mtools, straight from the read-only view at an offset
 * (`-i <view>@@<offset>`): no kernel driver is needed (many hosts have none) and a hostile FAT
 * never reaches the kernel. FAT has no owners, links or ACLs; times are kept (`mcopy -m`).
 */
export class FatReader implements TreeReader {
  constructor(
    private readonly view: string,
    private readonly offset: number,
  ) {}

  private image(): string {
    return `${this.view}@@${this.offset}`;
  }

  async list(segments: readonly string[], signal?: AbortSignal): Promise<FileEntry[]> {
    const path = `::/${segments.join('/')}`;
    const output = await runTool('mdir', ['-a', '-i', this.image(), path], 'BP_NOT_FOUND', `listing ${path.slice(2)}`, { env: MTOOLS_ENV, ...(signal ? { signal } : {}) });
    const entries: FileEntry[] = [];
    for (const line of output.split('\n')) {
      const match = MDIR_LINE.exec(line);
      if (!match) continue;
      const [, base = '', ext = '', size = '', year, month, day, hour, minute, long] = match;
      const short = ext.trim() === '' ? base.trim() : `${base.trim()}.${ext.trim()}`;
      const name = long ?? short;
      if (name === '.' || name === '..') continue;
      const directory = size === '<DIR>';
      entries.push({
        name,
        type: directory ? 'directory' : 'file',
        mode: directory ? 0o755 : 0o644,
        uid: 0,
        gid: 0,
        size: directory ? 0 : Number(size),
        mtime: new Date(Number(year), Number(month) - 1, Number(day), Number(hour), Number(minute)).toISOString(),
      });
    }
    // `mdir` of a file lists just that file.
    if (entries.length === 1 && segments.length > 0 && entries[0]!.type === 'file' && entries[0]!.name.toLowerCase() === segments.at(-1)!.toLowerCase()) return entries;
    return entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  async extract(segments: readonly string[], targetDir: string, signal?: AbortSignal): Promise<void> {
    if (segments.some((part) => part === '..')) throw new BpError('BP_INVALID_ARGUMENT', 'paths must not contain ..');
    const source = `::/${pathSegments(segments.join('/')).join('/')}`;
    // -s recursive, -p keep attributes, -m keep times, -n never ask (the target is new), -Q stop at the first error.
    await runTool('mcopy', ['-s', '-p', '-m', '-n', '-Q', '-i', this.image(), segments.length === 0 ? '::/*' : source, `${targetDir}/`], 'BP_RESTORE_FAILED', `copying ${source.slice(2)} out of the backup`, {
      env: MTOOLS_ENV,
      ...(signal ? { signal } : {}),
    });
  }
}
