import { randomBytes } from 'node:crypto';
import { BpError, type BitmapIdentity } from '@bp/api';
import { isUsableBitmap } from './bitmap-plan.js';
import type { BitmapInfo } from './block-nodes.js';
import { bitmapNameFor } from './device-name.js';

/** A storage instance ID as it may appear in a bitmap name. */
const STORAGE_INSTANCE = /^[A-Za-z0-9._-]{1,64}$/;
/** A generation stamp: 12 lowercase hex digits. */
const GENERATION = /^[0-9a-f]{12}$/;

/**
 * How the bitmaps of one storage are named in QEMU.
 *
 * - `pve`: PVE's `snapshot-access:<storeid>`, one fixed name (what PVE itself creates; bp cannot
 *   tell whose it is).
 * - `instance`: bp's standalone host, `bp:<storage instance>:<generation>`. The instance keeps two
 *   storages with the same ID apart; the generation changes at every successful backup, so a
 *   bitmap that another writer consumed, or an image copy carrying an old one, is recognised.
 */
export type BitmapNaming = { kind: 'pve'; storeId: string } | { kind: 'instance'; storageInstance: string };

/** The naming of a storage: by instance when the host knows it, else PVE's. */
export function bitmapNaming(storeId: string, storageInstance: string | undefined): BitmapNaming {
  if (storageInstance === undefined) return { kind: 'pve', storeId };
  if (!STORAGE_INSTANCE.test(storageInstance)) {
    throw new BpError('BP_INVALID_ARGUMENT', `storage instance ID ${JSON.stringify(storageInstance)} must be 1-64 letters, digits, '.', '_' or '-'`);
  }
  return { kind: 'instance', storageInstance };
}

/** A fresh generation stamp. */
export function newGeneration(): string {
  return randomBytes(6).toString('hex');
}

/** The bitmap name for a generation (ignored by `pve` naming). */
export function bitmapNameOf(naming: BitmapNaming, generation: string): string {
  return naming.kind === 'pve' ? bitmapNameFor(naming.storeId) : `bp:${naming.storageInstance}:${generation}`;
}

/** A bitmap of this storage found on a node. */
export interface StorageBitmap {
  info: BitmapInfo;
  /** Undefined for `pve` naming. */
  generation: string | undefined;
}

/** This storage's bitmaps among a node's bitmaps (helper bitmaps such as `…:background` excluded). */
export function storageBitmaps(naming: BitmapNaming, bitmaps: readonly BitmapInfo[]): StorageBitmap[] {
  if (naming.kind === 'pve') {
    const name = bitmapNameFor(naming.storeId);
    return bitmaps.filter((bitmap) => bitmap.name === name).map((info) => ({ info, generation: undefined }));
  }
  const prefix = `bp:${naming.storageInstance}:`;
  return bitmaps
    .filter((bitmap) => bitmap.name.startsWith(prefix) && GENERATION.test(bitmap.name.slice(prefix.length)))
    .map((info) => ({ info, generation: info.name.slice(prefix.length) }));
}

/**
 * What the host tells the provider about a device's bitmap before the access exists: `null`
 * when there is none (or more than one, which only a crash mid-commit leaves; the setup then
 * starts over), undefined when the naming cannot tell (PVE).
 */
export function bitmapIdentityOf(naming: BitmapNaming, bitmaps: readonly BitmapInfo[]): BitmapIdentity | null | undefined {
  if (naming.kind === 'pve') return undefined;
  const found = storageBitmaps(naming, bitmaps);
  const only = found.length === 1 ? found[0] : undefined;
  if (!only || only.generation === undefined) return null;
  return {
    name: only.info.name,
    storageInstance: naming.storageInstance,
    generation: only.generation,
    granularity: only.info.granularity,
    dirtyBytes: only.info.count,
    usable: isUsableBitmap(only.info),
  };
}
