import type { CompiledExclusions } from '../exclusions/index.js';
import { snapshotTree, type EntrySnapshot, type TreeSnapshot } from './snapshot-tree.js';

/** An aspect {@link compareTrees} can be told to skip, for tools that do not keep it. */
export type TreeAspect =
  | 'mtime'
  | 'directory-mtime'
  | 'symlink-mtime'
  /** mtimes of fifos, devices and sockets. */
  | 'special-mtime'
  /** The root directory's mtime (pct restore extracts into an existing root and keeps its metadata). */
  | 'root-mtime'
  | 'owner'
  | 'acl'
  | 'xattrs'
  | 'sparse'
  | 'hardlinks'
  /** The root directory entirely. */
  | 'root';

/** Options of {@link compareTrees}. */
export interface CompareTreesOptions {
  /** Exclusion patterns applied to the source tree `a` (the restored tree must lack those paths). */
  exclude?: readonly string[] | CompiledExclusions;
  /** Owners (and ACL entries) of `b` are expected to be those of `a` plus this (e.g. 100000). */
  idShift?: number;
  /** Aspects not to compare. */
  ignore?: readonly TreeAspect[];
}

/** The outcome of {@link compareTrees}: `differences` is empty when the trees match. */
export interface TreeComparison {
  equal: boolean;
  differences: string[];
  /** How many entries were compared. */
  entries: number;
}

/**
 * Compares a source tree `a` with a restored tree `b` entry by entry: type, mode (with
 * setuid/setgid/sticky), owner, mtime (seconds), content, symlink target, device numbers,
 * xattrs, ACLs, hard-link groups and sparseness (the restored file may not allocate much more
 * than the source). Entries of `a` matched by `exclude` must be absent from `b`.
 */
export async function compareTrees(a: string, b: string, options: CompareTreesOptions = {}): Promise<TreeComparison> {
  const source = await snapshotTree(a, options.exclude);
  const restored = await snapshotTree(b);
  const differences = compareSnapshots(source, restored, options);
  return { equal: differences.length === 0, differences, entries: source.size };
}

/** Compares two snapshots (see {@link compareTrees}). */
export function compareSnapshots(source: TreeSnapshot, restored: TreeSnapshot, options: CompareTreesOptions = {}): string[] {
  const ignore = new Set(options.ignore ?? []);
  const shift = options.idShift ?? 0;
  const differences: string[] = [];
  for (const [path, expected] of source) {
    if (path === '' && ignore.has('root')) continue;
    const actual = restored.get(path);
    const label = path === '' ? '/' : path;
    if (!actual) {
      differences.push(`${label}: missing`);
      continue;
    }
    const differ = (aspect: string, want: unknown, got: unknown): void => {
      if (JSON.stringify(want) !== JSON.stringify(got)) differences.push(`${label}: ${aspect} ${JSON.stringify(want)} != ${JSON.stringify(got)}`);
    };
    differ('type', expected.type, actual.type);
    if (expected.type !== actual.type) continue;
    differ('mode', expected.mode.toString(8), actual.mode.toString(8));
    if (!ignore.has('owner')) differ('owner', `${expected.uid + shift}:${expected.gid + shift}`, `${actual.uid}:${actual.gid}`);
    if (mtimeCompared(expected, ignore) && !(path === '' && ignore.has('root-mtime'))) differ('mtime', expected.mtime, actual.mtime);
    differ('size', expected.size, actual.size);
    differ('content', expected.sha256, actual.sha256);
    differ('symlink target', expected.linkTarget, actual.linkTarget);
    differ('device', expected.rdev, actual.rdev);
    if (!ignore.has('xattrs')) differ('xattrs', expected.xattrs, actual.xattrs);
    if (!ignore.has('acl')) differ('acl', expected.acl.map((line) => shiftAclEntry(line, shift)), actual.acl);
    if (!ignore.has('hardlinks')) differ('hard links', expected.hardlinks, actual.hardlinks);
    if (!ignore.has('sparse') && expected.allocated !== undefined && actual.allocated !== undefined && expected.size !== undefined) {
      // Sparse files must stay sparse: allow block rounding but not filling the holes.
      const allowance = Math.max(expected.allocated * 2, expected.allocated + 1024 * 1024);
      if (expected.allocated < expected.size && actual.allocated > allowance) {
        differences.push(`${label}: sparse file lost its holes (${expected.allocated} allocated before, ${actual.allocated} after)`);
      }
    }
  }
  for (const path of restored.keys()) if (!source.has(path)) differences.push(`${path === '' ? '/' : path}: unexpected entry`);
  return differences;
}

function mtimeCompared(entry: EntrySnapshot, ignore: Set<TreeAspect>): boolean {
  if (ignore.has('mtime')) return false;
  if (entry.type === 'directory' && ignore.has('directory-mtime')) return false;
  if (entry.type === 'symlink' && ignore.has('symlink-mtime')) return false;
  if (['fifo', 'character-device', 'block-device', 'socket'].includes(entry.type) && ignore.has('special-mtime')) return false;
  return true;
}

function shiftAclEntry(line: string, shift: number): string {
  if (shift === 0) return line;
  return line.replace(/^((?:default:)?(?:user|group):)(\d+)(:)/, (_match, head: string, id: string, tail: string) => `${head}${Number(id) + shift}${tail}`);
}
