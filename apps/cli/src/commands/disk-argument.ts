import { open } from 'node:fs/promises';
import { BpError } from '@bp/api';
import { hasQcow2Magic } from '@bp/nbd/qcow2';
import { usageError } from '../errors/usage-error.js';
import { absolutePath } from '../args/values.js';

/** A `--disk <virtdev>=<image>[,format=qcow2|raw]` argument. */
export interface DiskArgument {
  virtdev: string;
  image: string;
  format: 'qcow2' | 'raw';
}

/** PVE's drive keys that hold disks. */
const VIRTDEV = /^(?:scsi|virtio|sata|ide|efidisk|tpmstate)\d+$/;

/** Detects qcow2 by its magic bytes; everything else is raw. Missing files are BP_NOT_FOUND. */
export async function detectImageFormat(path: string): Promise<'qcow2' | 'raw'> {
  let handle;
  try {
    handle = await open(path, 'r');
  } catch (error) {
    throw new BpError('BP_NOT_FOUND', `disk image ${path} cannot be opened (${(error as NodeJS.ErrnoException).code ?? 'error'}); check the path`, {
      cause: error,
      details: { path },
    });
  }
  try {
    const magic = Buffer.alloc(4);
    const { bytesRead } = await handle.read(magic, 0, 4, 0);
    return hasQcow2Magic(magic.subarray(0, bytesRead)) ? 'qcow2' : 'raw';
  } finally {
    await handle.close();
  }
}

/** Parses one `--disk` value (relative paths against `cwd`), detecting the format unless given. */
export async function parseDiskArgument(text: string, cwd: string): Promise<DiskArgument> {
  const equals = text.indexOf('=');
  if (equals <= 0) throw usageError(`--disk must look like scsi0=/path/to/disk.qcow2, got ${JSON.stringify(text)}`);
  const virtdev = text.slice(0, equals);
  if (!VIRTDEV.test(virtdev)) throw usageError(`--disk device ${JSON.stringify(virtdev)} is not a PVE drive key (scsiN, virtioN, sataN, ideN, efidiskN, tpmstateN)`);
  let path = text.slice(equals + 1);
  let format: 'qcow2' | 'raw' | undefined;
  const formatMatch = /,format=(qcow2|raw)$/.exec(path);
  if (formatMatch) {
    format = formatMatch[1] as 'qcow2' | 'raw';
    path = path.slice(0, formatMatch.index);
  } else if (/,format=/.test(path)) {
    throw usageError(`--disk format must be qcow2 or raw, got ${JSON.stringify(text)}`);
  }
  if (path.length === 0) throw usageError(`--disk ${virtdev}= needs an image path`);
  const image = absolutePath(cwd, path);
  const detected = await detectImageFormat(image);
  return { virtdev, image, format: format ?? detected };
}

/** Rejects a device given twice. */
export function checkUniqueDevices(disks: readonly { virtdev: string }[]): void {
  const seen = new Set<string>();
  for (const disk of disks) {
    if (seen.has(disk.virtdev)) throw usageError(`--disk ${disk.virtdev} is given twice; give each device once`);
    seen.add(disk.virtdev);
  }
}
