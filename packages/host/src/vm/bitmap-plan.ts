import type { BitmapMode } from '@bp/api';
import type { BitmapInfo } from './block-nodes.js';

/** What to do with a device's bitmap before the access is set up. */
export interface BitmapPlan {
  /** Remove the existing bitmap first. */
  remove: boolean;
  /** Create a new, fully dirty bitmap. */
  create: boolean;
  /** Mode reported to the provider. */
  mode: BitmapMode;
  /** Task log text, like PVE's `query-pbs-bitmap-info` lines. */
  status: string;
}

/**
 * PVE's bitmap rules (spec 1.2.2) for one device: `none` or no answer drops an existing bitmap;
 * `new` recreates it fully dirty; `use` keeps a usable bitmap (`reuse`) and otherwise creates one
 * fully dirty (`new`). A bitmap that stopped recording or was not stored cleanly is unusable:
 * writes may be missing from it.
 */
export function planBitmap(answer: 'new' | 'use' | 'none' | undefined, existing: BitmapInfo | undefined, size: number): BitmapPlan {
  if (answer === undefined || answer === 'none') {
    return existing
      ? { remove: true, create: false, mode: 'none', status: 'not used, removed existing bitmap' }
      : { remove: false, create: false, mode: 'none', status: 'not used' };
  }
  if (answer === 'new') {
    return { remove: existing !== undefined, create: true, mode: 'new', status: 'created new' };
  }
  if (!existing) return { remove: false, create: true, mode: 'new', status: 'created new' };
  if (!isUsableBitmap(existing)) {
    return { remove: true, create: true, mode: 'new', status: 'existing bitmap was invalid and has been cleared' };
  }
  return { remove: false, create: false, mode: 'reuse', status: `OK (${renderBytes(existing.count)} of ${renderBytes(size)} dirty)` };
}

/** Bytes as PVE's `render_bytes` prints them: `512 B`, `4.00 MiB`. */
export function renderBytes(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return unit === 0 ? `${String(bytes)} B` : `${value.toFixed(2)} ${units[unit] ?? ''}`;
}

/** Whether QEMU may keep recording into the bitmap: enabled, not busy, stored cleanly. */
export function isUsableBitmap(info: BitmapInfo): boolean {
  return info.recording && info.inconsistent !== true && !info.busy;
}
