import { readJsonFile, writeFileAtomic } from '../util/durable-fs.js';

/**
 * `<path>/<vmid>/previous-info` as the example writes it: device -> `<type>-<time>/<device>.qcow2`,
 * the image the next incremental of that device builds on.
 */
export type PreviousInfo = Record<string, string>;

const PREVIOUS_ENTRY = /^[^/]+\/[^/]+\.qcow2$/;

/** Reads previous-info; a missing or broken file means "no previous image" (the example's rule). */
export async function readPreviousInfo(path: string): Promise<PreviousInfo> {
  const raw = await readJsonFile<unknown>(path);
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return {};
  const info: PreviousInfo = {};
  for (const [device, value] of Object.entries(raw)) if (typeof value === 'string' && PREVIOUS_ENTRY.test(value)) info[device] = value;
  return info;
}

/** Writes previous-info atomically (call under the guest lock). */
export async function writePreviousInfo(path: string, info: PreviousInfo): Promise<void> {
  await writeFileAtomic(path, `${JSON.stringify(info, null, 2)}\n`);
}

/**
 * Drops the previous-info entries of `devices`, or every entry pointing into the backup directory
 * `dirName`, so the next backup of those devices is full. Writes only when something changed;
 * returns the devices dropped. Call under the guest lock.
 */
export async function forgetPrevious(path: string, which: { devices?: Iterable<string>; dirName?: string }): Promise<string[]> {
  const previous = await readPreviousInfo(path);
  const devices = new Set(which.devices ?? []);
  const dropped = Object.entries(previous)
    .filter(([device, value]) => devices.has(device) || (which.dirName !== undefined && value.startsWith(`${which.dirName}/`)))
    .map(([device]) => device);
  if (dropped.length === 0) return [];
  for (const device of dropped) delete previous[device];
  await writePreviousInfo(path, previous);
  return dropped;
}
