import { mkdir, readdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { BpError } from '@bp/api';
import type { CommandSpec } from '../args/command-spec.js';
import { absolutePath, oneOf, parseBandwidth, stringValue, stringValues } from '../args/values.js';
import { hostRestoreContainer, hostRestoreVm } from '../deps/host-restore.js';
import { idMapForUidMap, parseUidMap } from './backup-ct.js';
import { usageError } from '../errors/usage-error.js';
import { formatBytes, formatDuration, formatRate } from '../output/format.js';
import type { RestoreJson } from '../output/json-types.js';
import { providerLog } from './provider-log.js';
import { restorePaths } from './restore-paths.js';
import { withDeviceProgress } from '../progress/device-progress.js';
import { findVolume, resolveVolumeArgument } from './volume-argument.js';

/**
 * Refuses a target that already has content (a restore never mixes with or overwrites files) and
 * creates it. Returns the cleanup for a failed restore: remove what this call created.
 */
async function prepareTarget(target: string): Promise<() => Promise<void>> {
  const entries = await readdir(target).catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT') return undefined;
    throw error;
  });
  if (entries && entries.length > 0) throw new BpError('BP_ALREADY_EXISTS', `--to ${target} is not empty; restore into a new or empty directory`, { details: { target } });
  await mkdir(target, { recursive: true });
  return async () => {
    if (entries === undefined) await rm(target, { recursive: true, force: true });
    else for (const entry of await readdir(target)) await rm(join(target, entry), { recursive: true, force: true });
  };
}

/** `bp restore <volid> --to <dir>`. */
export const restoreCommand: CommandSpec = {
  name: 'restore',
  summary: 'Restore a backup into a directory (VM: one image per disk; CT: the root tree)',
  usage: '<volid> --to <dir> [options]',
  description: 'The target directory must be new or empty. VM disks land as <dir>/<device>.<format>, a container tree in\n<dir>/rootfs; the guest config is written as <dir>/guest.conf.',
  options: [
    { name: 'to', type: 'string', argument: '<dir>', description: 'target directory' },
    { name: 'format', type: 'string', argument: '<qcow2|raw>', description: 'image format of restored VM disks', defaultText: 'qcow2' },
    { name: 'bwlimit', type: 'string', argument: '<rate>', description: 'bandwidth limit: KiB/s as in PVE, or with a unit (50M = 50 MiB/s)', defaultText: 'unlimited' },
    { name: 'uid-map', type: 'string', argument: '<0:host:count>', description: "container: host ID range of the restored tree (default: the backup's, else 0:100000:65536)" },
    { name: 'path', type: 'string', multiple: true, argument: '<path>', description: 'restore only this file or directory (repeatable; see `bp files`)' },
    { name: 'disk', type: 'string', argument: '<dev>', description: 'with --path: the VM disk to read', defaultText: 'the only disk' },
  ],
  positionals: { min: 1, max: 1, names: 'a volume ID' },
  examples: [
    'bp restore local:backup/100/qemu-2026-11-26T20:00:00Z --to ./vm100',
    'bp restore local:backup/200/lxc-2026-11-26T20:05:00Z --to ./ct200',
    'bp restore local:backup/100/qemu-2026-11-26T20:00:00Z --path /part1/etc/hosts --to ./files',
  ],
  failureCode: 'BP_RESTORE_FAILED',
  async run(context) {
    const toText = stringValue(context.values, 'to');
    if (toText === undefined) throw usageError('--to <dir> is required');
    const format = oneOf(stringValue(context.values, 'format'), ['qcow2', 'raw'] as const, '--format') ?? 'qcow2';
    const bwlimitText = stringValue(context.values, 'bwlimit');
    const bytesPerSecond = bwlimitText === undefined ? 0 : parseBandwidth(bwlimitText);
    const uidText = stringValue(context.values, 'uid-map');
    const idMap = uidText === undefined ? undefined : idMapForUidMap(parseUidMap(uidText));
    const target = await resolveVolumeArgument(context, context.positionals[0]);
    const volume = await findVolume(target);
    const targetDir = absolutePath(context.io.cwd, toText);
    const undoTarget = await prepareTarget(targetDir);
    const paths = stringValues(context.values, 'path');
    if (paths.length > 0) {
      return restorePaths(context, target, paths, targetDir).catch(async (error: unknown) => {
        await undoTarget().catch(() => undefined);
        throw error;
      });
    }
    const started = Date.now();
    const common = {
      storage: target.storage,
      volid: target.volid,
      targetDir,
      log: providerLog(context),
      signal: context.signal,
      ...(bytesPerSecond > 0 ? { bwlimitKiB: Math.max(1, Math.round(bytesPerSecond / 1024)) } : {}),
    };
    const json: RestoreJson = { volid: target.volid, type: volume.subtype, target: targetDir, disks: [], root: null, configPath: null, bytesWritten: 0, durationMs: 0 };
    try {
      let config: string | undefined;
      if (volume.subtype === 'qemu') {
        const result = await withDeviceProgress(context, (onProgress) => hostRestoreVm({ ...common, format, onProgress }));
        json.disks = result.disks.map(({ device, path, format: diskFormat, size }) => ({ device, path, format: diskFormat, size }));
        json.bytesWritten = result.disks.reduce((sum, disk) => sum + disk.size, 0);
        config = result.config;
      } else {
        // The tree goes one level down so that guest.conf does not land inside the container root.
        const root = join(targetDir, 'rootfs');
        const result = await hostRestoreContainer({ ...common, targetDir: root, ...(idMap ? { idMap } : {}) });
        json.root = root;
        config = result.config;
      }
      if (config !== undefined) {
        json.configPath = join(targetDir, 'guest.conf');
        await writeFile(json.configPath, config);
      }
    } catch (error) {
      await undoTarget().catch(() => undefined);
      throw error;
    }
    json.durationMs = Date.now() - started;
    const what = json.disks.length > 0
      ? json.disks.map((disk) => `  ${disk.device}  ${disk.path}  (${disk.format}, ${formatBytes(disk.size)})`).join('\n')
      : `  root tree: ${json.root ?? targetDir}`;
    const rate = json.bytesWritten > 0 ? ` (${formatRate(json.bytesWritten, json.durationMs)})` : '';
    return { json, text: `Restored ${target.volid} in ${formatDuration(json.durationMs)}${rate}:\n${what}` };
  },
};
