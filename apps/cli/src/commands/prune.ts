import { formatPruneOptions, parsePruneOptions, PRUNE_KEEP_COUNT_KEYS, type GuestType, type PruneResultEntry } from '@bp/api';
import type { CommandContext, CommandSpec } from '../args/command-spec.js';
import type { OptionSpec } from '../args/option-spec.js';
import { oneOf, parseCount, parseVmid, stringValue } from '../args/values.js';
import { openStorage } from '../config/storage-registry.js';
import { usageError } from '../errors/usage-error.js';
import { formatTime, isoTime } from '../output/format.js';
import type { PruneJson } from '../output/json-types.js';
import { renderTable } from '../output/table.js';

const PERIODS: Record<string, string> = { 'keep-hourly': 'hours', 'keep-daily': 'days', 'keep-weekly': 'weeks', 'keep-monthly': 'months', 'keep-yearly': 'years' };

const KEEP_OPTIONS: OptionSpec[] = PRUNE_KEEP_COUNT_KEYS.map((key) => ({
  name: key,
  type: 'string',
  argument: '<n>',
  description: key === 'keep-last' ? 'keep the last <n> backups' : `keep the newest backup of each of the last <n> ${PERIODS[key] ?? key}`,
}));

/** Retention from `--keep` (PVE string form) or the `--keep-*` options; undefined when none given. */
export function keepFromOptions(values: Record<string, unknown>): string | undefined {
  const text = stringValue(values, 'keep');
  const counts = PRUNE_KEEP_COUNT_KEYS.flatMap((key) => {
    const count = parseCount(stringValue(values, key), `--${key}`);
    return count === undefined ? [] : [`${key}=${count}`];
  });
  if (values['keep-all'] === true) counts.push('keep-all=1');
  if (text !== undefined && counts.length > 0) throw usageError('give either --keep or the --keep-* options, not both');
  const keep = text ?? (counts.length > 0 ? counts.join(',') : undefined);
  return keep === undefined ? undefined : formatPruneOptions(parsePruneOptions(keep));
}

function renderPrune(entries: readonly PruneResultEntry[]): string {
  return renderTable(
    [
      { header: 'VOLID', value: (entry: PruneResultEntry) => entry.volid },
      { header: 'TIME', value: (entry) => formatTime(entry.ctime) },
      { header: 'MARK', value: (entry) => entry.mark },
      { header: 'NOTE', value: (entry) => entry.note ?? '' },
    ],
    entries,
  );
}

/** Applies retention to a storage; shared by `bp prune` and `bp backup --prune`. */
export async function runPrune(
  context: CommandContext,
  options: { keep: string; vmid?: number; type?: GuestType; dryRun: boolean; storageId?: string },
): Promise<PruneJson> {
  const storage = await openStorage(context.paths, options.storageId ?? context.global.storage);
  const entries = await storage.pruneBackups(options.keep, {
    dryRun: options.dryRun,
    ...(options.vmid === undefined ? {} : { vmid: options.vmid }),
    ...(options.type === undefined ? {} : { type: options.type }),
    log: (level, message) => {
      if (level !== 'info' || context.global.debug) context.log(`${level}: ${message}`);
    },
  });
  return {
    storage: storage.storeId,
    dryRun: options.dryRun,
    keep: options.keep,
    entries: entries.map((entry) => ({
      volid: entry.volid,
      vmid: entry.vmid,
      type: entry.type,
      time: isoTime(entry.ctime),
      ctime: entry.ctime,
      mark: entry.mark,
      note: entry.note ?? null,
    })),
    removed: entries.filter((entry) => entry.mark === 'remove').map((entry) => entry.volid),
  };
}

/** `bp prune`. */
export const pruneCommand: CommandSpec = {
  name: 'prune',
  summary: 'Remove backups outside a retention policy (PVE keep-* semantics)',
  usage: '[--dry-run] --keep-<period> <n>... [options]',
  description: 'Without --keep options the storage\'s own prune-backups setting is used. Protected backups are never removed.',
  options: [
    { name: 'dry-run', type: 'boolean', description: 'only show what would be removed' },
    { name: 'keep', type: 'string', argument: '<list>', description: 'retention in PVE form, e.g. keep-daily=7,keep-last=3' },
    ...KEEP_OPTIONS,
    { name: 'keep-all', type: 'boolean', description: 'keep everything (prune nothing)' },
    { name: 'vmid', type: 'string', argument: '<vmid>', description: 'only this guest' },
    { name: 'type', type: 'string', argument: '<vm|ct>', description: 'only VMs or only containers' },
  ],
  positionals: { min: 0, max: 0, names: 'no arguments' },
  examples: ['bp prune --dry-run --keep-last 3 --keep-daily 7', 'bp prune --keep keep-weekly=4 --vmid 100'],
  failureCode: 'BP_PROVIDER_FAILED',
  async run(context) {
    const vmidText = stringValue(context.values, 'vmid');
    const vmid = vmidText === undefined ? undefined : parseVmid(vmidText, '--vmid');
    const typeWord = oneOf(stringValue(context.values, 'type'), ['vm', 'ct'] as const, '--type');
    const type: GuestType | undefined = typeWord === undefined ? undefined : typeWord === 'vm' ? 'qemu' : 'lxc';
    let keep = keepFromOptions(context.values);
    if (keep === undefined) {
      const storage = await openStorage(context.paths, context.global.storage);
      const configured = (storage.config as Record<string, unknown>)['prune-backups'];
      if (configured === undefined) throw usageError(`give a retention (--keep-last, --keep-daily, ... or --keep); storage ${storage.storeId} has no prune-backups setting`);
      keep = formatPruneOptions(parsePruneOptions(configured as string | Record<string, unknown>));
    }
    const dryRun = context.values['dry-run'] === true;
    const json = await runPrune(context, { keep, dryRun, ...(vmid === undefined ? {} : { vmid }), ...(type === undefined ? {} : { type }) });
    const verb = dryRun ? 'Would remove' : 'Removed';
    const table = json.entries.length > 0 ? `${renderPrune(json.entries.map((entry) => ({ ...entry, note: entry.note ?? undefined } as PruneResultEntry)))}\n` : '';
    const text = `${table}${verb} ${json.removed.length} of ${json.entries.length} backups (${keep})${dryRun ? ', dry run: nothing changed' : ''}.`;
    return { json, text };
  },
};
