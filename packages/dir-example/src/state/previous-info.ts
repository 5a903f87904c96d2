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
