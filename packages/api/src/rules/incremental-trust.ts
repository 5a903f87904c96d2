import { z } from 'zod';
import type { BitmapIdentity } from '../provider/vm-volume.js';

/**
 * Why a device's backup is full although the storage backs up incrementally. Stable strings:
 * they appear in task logs, backup attributes and `--json`.
 */
export const fullReasonSchema = z.enum([
  /** No earlier backup of this device on this storage (or the last one failed after QEMU reset its bitmap). */
  'first-backup',
  /** The earlier backup recorded another storage instance (the storage was recreated or copied). */
  'storage-changed',
  /** The image the incremental would build on is gone. */
  'base-missing',
  /** The image the incremental would build on fails its chain checks. */
  'base-damaged',
  /** The disk's virtual size differs from the one recorded with the base. */
  'size-changed',
  /** The host has no usable bitmap for this device and storage (removed, invalid, or recreated). */
  'bitmap-missing',
  /** The bitmap's generation is not the one recorded with the base: something else consumed or replaced it. */
  'bitmap-not-ours',
  /** The chain reached the storage's `max-chain-length`. */
  'chain-too-long',
  /** A full read is due (`full-read-every` backups or `full-read-days` days). */
  'scheduled-full',
]);
/** Why a backup became full; see {@link fullReasonSchema}. */
export type FullReason = z.infer<typeof fullReasonSchema>;

/** One line per reason, for logs and `bp show`. */
export const FULL_REASON_TEXT: Readonly<Record<FullReason, string>> = {
  'first-backup': 'no earlier backup of this disk on this storage',
  'storage-changed': 'the earlier backup belongs to another storage instance',
  'base-missing': 'the backup an incremental would build on is missing',
  'base-damaged': 'the backup an incremental would build on is damaged',
  'size-changed': 'the disk size changed',
  'bitmap-missing': 'no usable dirty bitmap for this storage',
  'bitmap-not-ours': 'the dirty bitmap does not continue from the last backup',
  'chain-too-long': 'the incremental chain reached its length limit',
  'scheduled-full': 'a scheduled full read is due',
};

/**
 * What a provider records with each device image so that the next backup can tell whether an
 * incremental on top of it would be exact. JSON-safe; keep it beside the image.
 */
export const incrementalRecordSchema = z.object({
  /** The storage instance that wrote the image. */
  storageInstance: z.string().min(1),
  /** Virtual size of the disk at this backup. */
  size: z.number().int().min(0),
  /** Images in the chain up to and including this one (1 = a full image). */
  chainLength: z.number().int().min(1),
  /** The bitmap generation that must be found next time; absent when the host could not tell (PVE). */
  bitmapGeneration: z.string().min(1).optional(),
  /** Backups in the chain since the last full read of the disk (0 = this one read everything). */
  sinceFullRead: z.number().int().min(0),
  /** Epoch seconds of the last full read of the disk. */
  fullReadTime: z.number().int(),
});
/** See {@link incrementalRecordSchema}. */
export type IncrementalRecord = z.infer<typeof incrementalRecordSchema>;

/** Storage policy for incremental chains. */
export interface IncrementalPolicy {
  /** Longest chain (full + incrementals); the next backup after it is full or merged. 0 = unlimited. */
  maxChainLength?: number;
  /** What a chain at its limit becomes: a new full read (`full`), or an incremental merged into a synthetic full (`merge`). */
  chainLimitAction?: 'full' | 'merge';
  /** A full read every N backups of the chain; 0 = never. */
  fullReadEvery?: number;
  /** A full read when the last one is at least D days old; 0 = never. */
  fullReadDays?: number;
}

/** The facts one device's decision is made from. */
export interface IncrementalFacts {
  /** The record stored with the base image, undefined when there is no base. */
  record: IncrementalRecord | undefined;
  /** What the provider found when it checked the base image itself. */
  base: 'ok' | 'missing' | 'damaged' | 'none';
  /** Virtual size of the base image as found, when known. */
  baseSize?: number;
  /** This storage's instance ID. */
  storageInstance: string;
  /** The disk's current virtual size. */
  size: number;
  /** `devices[d].bitmap` as the host reported it (undefined: the host cannot tell). */
  bitmap: BitmapIdentity | null | undefined;
  policy: IncrementalPolicy;
  /** Epoch seconds. */
  now: number;
}

/** The decision for one device. `merge`: merge the new incremental into a synthetic full image. */
export type IncrementalDecision =
  | { answer: 'use'; merge: boolean }
  | { answer: 'new'; reason: FullReason; detail: string; fullRead: 'new-chain' | 'verify-chain'; merge: boolean };

const DAY = 86_400;

/**
 * bp's rules for when a dirty bitmap may be trusted, in one place for every provider. Answers
 * `use` only when the base exists and is intact, was written by this storage instance for a
 * disk of this size, and — where the host can tell — the bitmap is this storage's and carries
 * exactly the generation recorded with the base. Policy may still ask for a full read.
 *
 * A scheduled full read (`fullRead: 'verify-chain'`) keeps the chain: the provider reads
 * everything and stores what differs from the previous restore point, which both checks and
 * repairs the chain whatever the bitmap missed. Every other full starts a new chain.
 */
export function decideIncremental(facts: IncrementalFacts): IncrementalDecision {
  const full = (reason: FullReason, detail: string): IncrementalDecision => ({ answer: 'new', reason, detail, fullRead: 'new-chain', merge: false });
  const { record, bitmap, policy } = facts;
  if (facts.base === 'none') return full('first-backup', FULL_REASON_TEXT['first-backup']);
  if (facts.base === 'missing') return full('base-missing', FULL_REASON_TEXT['base-missing']);
  if (facts.base === 'damaged') return full('base-damaged', FULL_REASON_TEXT['base-damaged']);
  if (facts.baseSize !== undefined && facts.baseSize !== facts.size) {
    return full('size-changed', `the disk size changed from ${facts.baseSize} to ${facts.size} bytes`);
  }
  if (record === undefined) {
    // A base without a record predates these rules: trust it only where nobody can tell more (PVE).
    if (bitmap === null) return full('bitmap-missing', FULL_REASON_TEXT['bitmap-missing']);
    if (bitmap !== undefined) return full('bitmap-not-ours', 'the earlier backup recorded no bitmap generation');
    return { answer: 'use', merge: false };
  }
  if (record.storageInstance !== facts.storageInstance) {
    return full('storage-changed', `${FULL_REASON_TEXT['storage-changed']} (${record.storageInstance}, now ${facts.storageInstance})`);
  }
  if (record.size !== facts.size) return full('size-changed', `the disk size changed from ${record.size} to ${facts.size} bytes`);
  if (bitmap !== undefined || record.bitmapGeneration !== undefined) {
    if (bitmap === null || bitmap === undefined) return full('bitmap-missing', FULL_REASON_TEXT['bitmap-missing']);
    if (bitmap.storageInstance !== facts.storageInstance || bitmap.generation !== record.bitmapGeneration) {
      return full('bitmap-not-ours', `bitmap ${bitmap.name} has generation ${bitmap.generation}, the last backup left ${record.bitmapGeneration ?? 'none'}`);
    }
    if (!bitmap.usable) return full('bitmap-missing', `bitmap ${bitmap.name} is disabled, busy or inconsistent`);
  }
  const max = policy.maxChainLength ?? 0;
  const atLimit = max > 0 && record.chainLength >= max;
  const merge = atLimit && (policy.chainLimitAction ?? 'full') === 'merge';
  if (atLimit && !merge) return full('chain-too-long', `the chain has ${record.chainLength} backups, the limit is ${max}`);
  const every = policy.fullReadEvery ?? 0;
  const days = policy.fullReadDays ?? 0;
  const due =
    every > 0 && record.sinceFullRead + 1 >= every
      ? `a full read every ${every} backups is due`
      : days > 0 && facts.now - record.fullReadTime >= days * DAY
        ? `a full read every ${days} days is due`
        : undefined;
  if (due !== undefined) return { answer: 'new', reason: 'scheduled-full', detail: due, fullRead: 'verify-chain', merge };
  return { answer: 'use', merge };
}

/**
 * The record of an image just written. `base` is the record of the image it builds on (undefined
 * for a new chain); `fullRead` tells whether every byte of the disk was read for it.
 */
export function nextIncrementalRecord(options: {
  base: IncrementalRecord | undefined;
  storageInstance: string;
  size: number;
  bitmapGeneration: string | undefined;
  fullRead: boolean;
  merged: boolean;
  now: number;
}): IncrementalRecord {
  const { base } = options;
  const chained = base !== undefined && !options.merged;
  return {
    storageInstance: options.storageInstance,
    size: options.size,
    chainLength: chained ? base.chainLength + 1 : 1,
    ...(options.bitmapGeneration === undefined ? {} : { bitmapGeneration: options.bitmapGeneration }),
    sinceFullRead: options.fullRead || base === undefined ? 0 : base.sinceFullRead + 1,
    fullReadTime: options.fullRead || base === undefined ? options.now : base.fullReadTime,
  };
}
