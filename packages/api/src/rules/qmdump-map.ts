import { BpError } from '../errors/index.js';

/** One `#qmdump#map:<virtdev>:<device>:<storeid>:<format>:` line of a VM backup config. */
export interface QmdumpMapEntry {
  /** Config key of the drive, e.g. `scsi0`, `efidisk0`. */
  virtdev: string;
  /** Backup device name, e.g. `drive-scsi0`; the key of `restore_vm_init`'s result. */
  device: string;
  /** Storage the disk lived on; empty when the disk was not a storage volume. */
  storeId: string;
  /** Disk format hint (`raw`, `qcow2`, ...); empty means raw. */
  format: string;
}

/**
 * qemu-server's own pattern (`restore_external_archive` / `parse_backup_hints`):
 * `^\#qmdump\#map:(\S+):(\S+):(\S*):(\S*):$`, applied to each line without its `\n`.
 */
const QMDUMP_MAP_LINE = /^#qmdump#map:(\S+):(\S+):(\S*):(\S*):$/;

/** Prefix of every map line. */
export const QMDUMP_MAP_PREFIX = '#qmdump#map:';

/** The map entry of one config line, or `undefined` if the line is not a map line. */
export function parseQmdumpMapLine(line: string): QmdumpMapEntry | undefined {
  const match = QMDUMP_MAP_LINE.exec(line);
  if (!match) return undefined;
  const [, virtdev = '', device = '', storeId = '', format = ''] = match;
  return { virtdev, device, storeId, format };
}

/**
 * All `#qmdump#map` entries of a VM backup config, in file order.
 *
 * vzdump appends one such line per backed-up disk to the guest config it passes to `backup_vm`
 * (qemu-server `PVE::VZDump::QemuServer::assemble`); on restore qemu-server scans the config for
 * them to map device names back to drive slots (spec 1.2, 1.4 step e). Lines are split at `\n`
 * only, as Perl's line reading does, so a line ending in `\r` is not a map line (as in PVE).
 */
export function parseQmdumpMap(configText: string): QmdumpMapEntry[] {
  const entries: QmdumpMapEntry[] = [];
  for (const line of configText.split('\n')) {
    const entry = parseQmdumpMapLine(line);
    if (entry) entries.push(entry);
  }
  return entries;
}

const FIELD_RULES: ReadonlyArray<[keyof QmdumpMapEntry, boolean]> = [
  ['virtdev', true],
  ['device', true],
  ['storeId', false],
  ['format', false],
];

/**
 * Writes one map line (without a trailing newline), as vzdump does:
 * `#qmdump#map:<virtdev>:<device>:<storeid>:<format>:`.
 *
 * Throws `BP_INVALID_ARGUMENT` when `virtdev` or `device` is empty or any field contains `:` or
 * whitespace — such a line would not read back as the same entry.
 */
export function formatQmdumpMapLine(entry: QmdumpMapEntry): string {
  for (const [field, required] of FIELD_RULES) {
    const value = entry[field];
    if (typeof value !== 'string' || (required && value === '') || /[\s:]/.test(value)) {
      throw new BpError(
        'BP_INVALID_ARGUMENT',
        `qmdump map field ${field} ${JSON.stringify(value)} is invalid: use ${required ? 'a non-empty' : 'a'} value without ':' or whitespace`,
        { details: { field, value: String(value) } },
      );
    }
  }
  return `${QMDUMP_MAP_PREFIX}${entry.virtdev}:${entry.device}:${entry.storeId}:${entry.format}:`;
}

/**
 * Replaces the map lines of a config: every existing `#qmdump#map` line is dropped, every other
 * line is kept byte for byte, and one line per entry is appended at the end (where vzdump writes
 * them). The result ends with a newline when any entry is written.
 */
export function setQmdumpMap(configText: string, entries: readonly QmdumpMapEntry[]): string {
  const mapLines = entries.map(formatQmdumpMapLine);
  const kept = configText.split('\n').filter((line) => parseQmdumpMapLine(line) === undefined);
  let text = kept.join('\n');
  if (mapLines.length === 0) return text;
  if (text !== '' && !text.endsWith('\n')) text += '\n';
  return `${text}${mapLines.join('\n')}\n`;
}

/**
 * The device names (`drive-scsi0`, ...) a VM backup config refers to through its map lines, each
 * once, in file order. On restore each of them must be a key of the provider's `restore_vm_init`
 * result, else qemu-server fails with "archive does not contain data for drive ..." (spec 1.4 e).
 */
export function devicesFromGuestConfig(configText: string): string[] {
  return [...new Set(parseQmdumpMap(configText).map((entry) => entry.device))];
}
