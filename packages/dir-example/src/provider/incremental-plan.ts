import { join } from 'node:path';
import {
  decideIncremental,
  type BitmapIdentity,
  type IncrementalDecision,
  type IncrementalPolicy,
  type IncrementalRecord,
} from '@bp/api';
import { imageFileName } from '../layout/index.js';
import { validateBackingChain } from '../restore/backing-chain.js';
import { readChainFile } from '../state/chain-file.js';
import { exists } from '../util/durable-fs.js';

/** The plan for one device: the decision, and the base it refers to. */
export interface DevicePlan {
  decision: IncrementalDecision;
  /** `<type>-<time>/<device>.qcow2` below the guest directory, when a base exists and is usable. */
  base?: string;
  baseRecord?: IncrementalRecord;
}

/** What {@link planDevice} needs to know. */
export interface PlanContext {
  guestDir: string;
  storageInstance: string;
  policy: IncrementalPolicy;
  now: number;
}

/**
 * Applies bp's trust rules ({@link decideIncremental}) to one device: checks the previous image
 * named by previous-info (present, a valid chain, its size) and reads the record stored beside it.
 */
export async function planDevice(context: PlanContext, device: string, current: { size: number; bitmap?: BitmapIdentity | null }, previous: string | undefined): Promise<DevicePlan> {
  const facts = { storageInstance: context.storageInstance, size: current.size, bitmap: current.bitmap, policy: context.policy, now: context.now };
  // previous-info entries must name this device's image in a backup directory of this guest.
  if (previous === undefined || previous !== `${previous.split('/')[0]}/${imageFileName(device)}`) {
    return { decision: decideIncremental({ ...facts, record: undefined, base: 'none' }) };
  }
  const image = join(context.guestDir, previous);
  if (!(await exists(image))) return { decision: decideIncremental({ ...facts, record: undefined, base: 'missing' }) };
  let baseSize: number | undefined;
  try {
    baseSize = (await validateBackingChain(image))[0]?.virtualSize;
  } catch {
    return { decision: decideIncremental({ ...facts, record: undefined, base: 'damaged' }) };
  }
  const record = (await readChainFile(join(context.guestDir, previous.split('/')[0]!)))[device]?.record;
  const decision = decideIncremental({ ...facts, record, base: 'ok', ...(baseSize === undefined ? {} : { baseSize }) });
  // A scheduled full read keeps the chain: it needs the base too.
  const keepsBase = decision.answer === 'use' || decision.fullRead === 'verify-chain';
  return { decision, ...(keepsBase ? { base: previous } : {}), ...(record ? { baseRecord: record } : {}) };
}
