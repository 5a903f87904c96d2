import { join } from 'node:path';
import { z } from 'zod';
import { fullReasonSchema, incrementalRecordSchema, type DeviceChain } from '@bp/api';
import { FILES } from '../layout/index.js';
import { readJsonFile, writeFileAtomic } from '../util/durable-fs.js';

/** One device image of a backup: what the next incremental must match, and how this one came to be. */
export const chainEntrySchema = z.object({
  record: incrementalRecordSchema,
  kind: z.enum(['full', 'incremental']),
  fullReason: fullReasonSchema.optional(),
  detail: z.string().optional(),
});
/** See {@link chainEntrySchema}. */
export type ChainEntry = z.infer<typeof chainEntrySchema>;

/** `chain.json` of a VM backup: device -> entry. */
export type ChainFile = Record<string, ChainEntry>;

/** Reads `chain.json` of a backup directory; entries that do not parse are left out (as if unrecorded). */
export async function readChainFile(backupDir: string): Promise<ChainFile> {
  const raw = await readJsonFile<unknown>(join(backupDir, FILES.chain));
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return {};
  const chain: ChainFile = {};
  for (const [device, value] of Object.entries(raw)) {
    const parsed = chainEntrySchema.safeParse(value);
    if (parsed.success) chain[device] = parsed.data;
  }
  return chain;
}

/** Writes `chain.json` into a (partial) backup directory. */
export async function writeChainFile(backupDir: string, chain: ChainFile): Promise<void> {
  await writeFileAtomic(join(backupDir, FILES.chain), `${JSON.stringify(chain, null, 2)}\n`);
}

/** The listing's view of a chain file. */
export function deviceChains(chain: ChainFile): Record<string, DeviceChain> {
  return Object.fromEntries(
    Object.entries(chain).map(([device, entry]) => [
      device,
      {
        kind: entry.kind,
        chainLength: entry.record.chainLength,
        ...(entry.fullReason === undefined ? {} : { fullReason: entry.fullReason }),
        ...(entry.detail === undefined ? {} : { detail: entry.detail }),
      },
    ]),
  );
}
