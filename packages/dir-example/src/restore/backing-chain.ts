import { lstat, realpath } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { BpError } from '@bp/api';
import { readQcow2Header } from '@bp/nbd/qcow2';
import { isBackupDirName } from '../layout/index.js';

/** Longest chain bp follows; a real chain is far shorter unless nothing was ever pruned. */
export const MAX_CHAIN_DEPTH = 256;

/** One validated layer, top first. */
export interface ChainLayer {
  path: string;
  virtualSize: number;
}

function unsafe(path: string, why: string): BpError {
  return new BpError('BP_UNSAFE_IMAGE', `refusing backing chain at ${path}: ${why}; the chain must consist of this storage's own qcow2 images of the same guest`, {
    details: { path, why },
  });
}

async function assertRegularFile(path: string): Promise<void> {
  let info;
  try {
    info = await lstat(path);
  } catch (error) {
    throw new BpError('BP_CHAIN_BROKEN', `image ${path} is missing; the backup it belongs to is incomplete`, { cause: error, details: { path } });
  }
  if (!info.isFile()) throw unsafe(path, 'it is not a regular file (symlinks and devices are refused)');
}

/**
 * Validates the backing chain of `imagePath` by reading qcow2 headers directly: every layer must
 * be a regular qcow2 file named `<device>.qcow2` in a backup directory of the same guest directory,
 * referenced by the relative name `../<type>-<time>/<device>.qcow2`, without external data file or
 * encryption, with a backing format of qcow2 (or none), at most {@link MAX_CHAIN_DEPTH} deep and
 * without loops. Returns the layers top first. Throws BP_UNSAFE_IMAGE or BP_CHAIN_BROKEN.
 */
export async function validateBackingChain(imagePath: string): Promise<ChainLayer[]> {
  const top = resolve(imagePath);
  const device = basename(top);
  const guestDir = await realpath(dirname(dirname(top)));
  const seen = new Set<string>();
  const layers: ChainLayer[] = [];
  let current = top;
  for (;;) {
    await assertRegularFile(current);
    const real = await realpath(current);
    if (dirname(dirname(real)) !== guestDir) throw unsafe(current, 'it lies outside the guest directory');
    if (seen.has(real)) throw unsafe(current, 'the backing chain loops');
    seen.add(real);
    if (layers.length >= MAX_CHAIN_DEPTH) throw unsafe(current, `the chain is deeper than ${MAX_CHAIN_DEPTH}`);
    const header = await readQcow2Header(current);
    if (header.unsafe.length > 0) throw unsafe(current, header.unsafe.join(', '));
    layers.push({ path: current, virtualSize: header.virtualSize });
    if (header.backingFile === undefined) return layers;
    if (header.backingFormat !== undefined && header.backingFormat !== 'qcow2') throw unsafe(current, `backing format ${header.backingFormat} is not qcow2`);
    const name = header.backingFile;
    const parts = name.split('/');
    if (parts.length !== 3 || parts[0] !== '..' || !isBackupDirName(parts[1] ?? '') || parts[2] !== device) {
      throw unsafe(current, `backing file ${JSON.stringify(name)} is not ../<type>-<time>/${device}`);
    }
    current = join(dirname(current), name);
  }
}

/** The backup directory name (`<type>-<time>`) an image's header names as its backing, if any. */
export async function backingDirName(imagePath: string): Promise<string | undefined> {
  const header = await readQcow2Header(imagePath);
  if (header.backingFile === undefined) return undefined;
  const parts = header.backingFile.split('/');
  return parts.length === 3 && parts[0] === '..' ? parts[1] : undefined;
}
