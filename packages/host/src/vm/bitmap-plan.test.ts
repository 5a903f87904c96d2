import { describe, expect, it } from 'vitest';
import { planBitmap, renderBytes } from './bitmap-plan.js';
import type { BitmapInfo } from './block-nodes.js';

const MiB = 1024 * 1024;
const healthy: BitmapInfo = { name: 'snapshot-access:s', recording: true, persistent: true, busy: false, granularity: 4 * MiB, count: 8 * MiB };

describe('planBitmap (spec 1.2.2)', () => {
  it('maps answers and existing bitmaps to PVE modes', () => {
    expect(planBitmap(undefined, undefined, 64 * MiB)).toEqual({ remove: false, create: false, mode: 'none', status: 'not used' });
    expect(planBitmap(undefined, healthy, 64 * MiB)).toMatchObject({ remove: true, create: false, mode: 'none' });
    expect(planBitmap('none', healthy, 64 * MiB)).toMatchObject({ remove: true, create: false, mode: 'none' });
    expect(planBitmap('new', healthy, 64 * MiB)).toMatchObject({ remove: true, create: true, mode: 'new', status: 'created new' });
    expect(planBitmap('new', undefined, 64 * MiB)).toMatchObject({ remove: false, create: true, mode: 'new' });
    expect(planBitmap('use', undefined, 64 * MiB)).toMatchObject({ remove: false, create: true, mode: 'new', status: 'created new' });
    expect(planBitmap('use', healthy, 64 * MiB)).toEqual({ remove: false, create: false, mode: 'reuse', status: 'OK (8.00 MiB of 64.00 MiB dirty)' });
  });

  it('recreates bitmaps that may have missed writes', () => {
    for (const broken of [{ recording: false }, { inconsistent: true }, { busy: true }]) {
      expect(planBitmap('use', { ...healthy, ...broken }, 64 * MiB)).toEqual({
        remove: true,
        create: true,
        mode: 'new',
        status: 'existing bitmap was invalid and has been cleared',
      });
    }
  });

  it('renders bytes like PVE', () => {
    expect(renderBytes(0)).toBe('0 B');
    expect(renderBytes(1536)).toBe('1.50 KiB');
    expect(renderBytes(3 * 1024 ** 4)).toBe('3.00 TiB');
  });
});
