import { describe, expect, it } from 'vitest';
import type { BitmapIdentity } from '../provider/vm-volume.js';
import { decideIncremental, nextIncrementalRecord, type IncrementalFacts, type IncrementalRecord } from './incremental-trust.js';

const NOW = 1_800_000_000;
const record: IncrementalRecord = { storageInstance: 'inst-a', size: 1_048_577, chainLength: 2, bitmapGeneration: '0123456789ab', sinceFullRead: 1, fullReadTime: NOW - 3600 };
const bitmap: BitmapIdentity = { name: 'bp:inst-a:0123456789ab', storageInstance: 'inst-a', generation: '0123456789ab', granularity: 65536, dirtyBytes: 65536, usable: true };
const facts: IncrementalFacts = { record, base: 'ok', baseSize: 1_048_577, storageInstance: 'inst-a', size: 1_048_577, bitmap, policy: {}, now: NOW };

function reasonOf(changes: Partial<IncrementalFacts>): string {
  const decision = decideIncremental({ ...facts, ...changes });
  return decision.answer === 'use' ? `use${decision.merge ? '+merge' : ''}` : `${decision.reason}/${decision.fullRead}${decision.merge ? '+merge' : ''}`;
}

describe('decideIncremental', () => {
  it('reuses only a bitmap of this instance with the recorded generation', () => {
    expect(reasonOf({})).toBe('use');
    expect(reasonOf({ bitmap: { ...bitmap, generation: '0123456789ac' } })).toBe('bitmap-not-ours/new-chain');
    expect(reasonOf({ bitmap: { ...bitmap, storageInstance: 'inst-b' } })).toBe('bitmap-not-ours/new-chain');
    expect(reasonOf({ bitmap: null })).toBe('bitmap-missing/new-chain');
    expect(reasonOf({ bitmap: { ...bitmap, usable: false } })).toBe('bitmap-missing/new-chain');
  });

  it('reads in full without a usable base, in another instance, or after a resize by one byte', () => {
    expect(reasonOf({ base: 'none', record: undefined })).toBe('first-backup/new-chain');
    expect(reasonOf({ base: 'missing' })).toBe('base-missing/new-chain');
    expect(reasonOf({ base: 'damaged' })).toBe('base-damaged/new-chain');
    expect(reasonOf({ storageInstance: 'inst-b', bitmap: { ...bitmap, storageInstance: 'inst-b' } })).toBe('storage-changed/new-chain');
    expect(reasonOf({ size: 1_048_576, baseSize: 1_048_577 })).toBe('size-changed/new-chain');
    // The record alone also catches it (a base whose header could not be sized).
    const { baseSize: _unused, ...withoutBaseSize } = facts;
    expect(reasonOf({ ...withoutBaseSize, size: 1_048_578 })).toBe('size-changed/new-chain');
  });

  it('trusts an unrecorded base only where the host cannot tell (PVE)', () => {
    expect(reasonOf({ record: undefined, bitmap: undefined })).toBe('use');
    expect(reasonOf({ record: undefined, bitmap: null })).toBe('bitmap-missing/new-chain');
    expect(reasonOf({ record: undefined })).toBe('bitmap-not-ours/new-chain');
    // A record with a generation but a host that cannot tell: the bitmap cannot be checked.
    expect(reasonOf({ bitmap: undefined })).toBe('bitmap-missing/new-chain');
    expect(reasonOf({ bitmap: undefined, record: { ...record, bitmapGeneration: undefined } })).toBe('use');
  });

  it('applies the chain length limit at the boundary', () => {
    expect(reasonOf({ policy: { maxChainLength: 3 } })).toBe('use');
    expect(reasonOf({ policy: { maxChainLength: 2 } })).toBe('chain-too-long/new-chain');
    expect(reasonOf({ policy: { maxChainLength: 2, chainLimitAction: 'merge' } })).toBe('use+merge');
    expect(reasonOf({ policy: { maxChainLength: 0 }, record: { ...record, chainLength: 10_000 } })).toBe('use');
  });

  it('schedules full reads by count and by age, keeping the chain', () => {
    expect(reasonOf({ policy: { fullReadEvery: 3 } })).toBe('use');
    expect(reasonOf({ policy: { fullReadEvery: 2 } })).toBe('scheduled-full/verify-chain');
    expect(reasonOf({ policy: { fullReadDays: 1 }, now: record.fullReadTime + 86_399 })).toBe('use');
    expect(reasonOf({ policy: { fullReadDays: 1 }, now: record.fullReadTime + 86_400 })).toBe('scheduled-full/verify-chain');
    // At the limit with merging, the scheduled read still happens and then merges.
    expect(reasonOf({ policy: { fullReadEvery: 2, maxChainLength: 2, chainLimitAction: 'merge' } })).toBe('scheduled-full/verify-chain+merge');
    // At the limit with a new chain, the new chain is the full read.
    expect(reasonOf({ policy: { fullReadEvery: 2, maxChainLength: 2 } })).toBe('chain-too-long/new-chain');
  });
});

describe('nextIncrementalRecord', () => {
  const next = (changes: Partial<Parameters<typeof nextIncrementalRecord>[0]>) =>
    nextIncrementalRecord({ base: record, storageInstance: 'inst-a', size: 7, bitmapGeneration: 'aaaaaaaaaaaa', fullRead: false, merged: false, now: NOW, ...changes });

  it('counts the chain and the backups since the last full read', () => {
    expect(next({})).toEqual({ storageInstance: 'inst-a', size: 7, chainLength: 3, bitmapGeneration: 'aaaaaaaaaaaa', sinceFullRead: 2, fullReadTime: record.fullReadTime });
    expect(next({ fullRead: true })).toMatchObject({ chainLength: 3, sinceFullRead: 0, fullReadTime: NOW });
    expect(next({ base: undefined, fullRead: true })).toMatchObject({ chainLength: 1, sinceFullRead: 0, fullReadTime: NOW });
    expect(next({ merged: true })).toMatchObject({ chainLength: 1, sinceFullRead: 2 });
    expect(next({ bitmapGeneration: undefined })).not.toHaveProperty('bitmapGeneration');
  });
});
