import { BpError } from '@bp/api';
import type { TarCompression } from './compression.js';
import { listTarArchive, type TarMember, type TarMemberType } from './list-tar.js';
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

const SAFE_TYPES = new Set<TarMemberType>(['file', 'contiguous-file', 'directory', 'symlink', 'hardlink', 'fifo']);
const DEVICE_TYPES = new Set<TarMemberType>(['char-device', 'block-device']);

/**
 * The safety rules of {@link scanTarArchive}, member by member, for a caller that lists the
 * archive itself (to check more in the same pass): absolute names, `..` components, hard links
 * outside the root, members below a symlink of the archive, devices (unless allowed) and member
 * types tar would not extract as such (multi-volume, volume labels, unknown types).
 */
export class TarSafetyCheck {
  /** The members seen so far that must not be extracted. */
  readonly unsafe: UnsafeMember[] = [];
  private readonly symlinks = new Set<string>();

  /** @param allowDevices accept character and block devices (a privileged restore). */
  constructor(private readonly allowDevices = false) {}

  /** Judges the next member in archive order. */
  see(member: TarMember): void {
    const reason = unsafePathReason(member.name);
    if (reason) this.unsafe.push({ name: member.name, reason });
    const name = normalizeMemberPath(member.name);
    if (member.type === 'hardlink' && member.target !== undefined) {
      const targetReason = unsafePathReason(member.target);
      if (targetReason) this.unsafe.push({ name, reason: `hard link target ${targetReason}` });
    }
    if (DEVICE_TYPES.has(member.type)) {
      if (!this.allowDevices) this.unsafe.push({ name, reason: `${member.type} not allowed` });
    } else if (!SAFE_TYPES.has(member.type)) this.unsafe.push({ name, reason: `unsupported member type ${member.type}` });
    const parts = name.split('/');
    for (let length = 1; length < parts.length; length++) {
      const parent = parts.slice(0, length).join('/');
      if (this.symlinks.has(parent)) {
        this.unsafe.push({ name, reason: `below symlink ${parent}` });
        break;
      }
    }
    if (member.type === 'symlink') this.symlinks.add(name);
    else this.symlinks.delete(name);
  }
}

/**
 * Lists every member of an untrusted tar archive (without extracting anything, see
 * {@link listTarArchive}: GNU tar's own listing) and reports the members {@link TarSafetyCheck}
 * refuses.
 */
export async function scanTarArchive(path: string, options: ScanTarOptions): Promise<TarScan> {
  const check = new TarSafetyCheck(options.allowDevices);
  const members = await listTarArchive(path, { compression: options.compression, ...(options.signal ? { signal: options.signal } : {}) }, (member) => check.see(member));
  return { members, unsafe: check.unsafe };
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
