import { readFile, stat } from 'node:fs/promises';
import { BpError, containerFormatSchema } from '@bp/api';
import type { IdMapEntry } from '@bp/host';
import type { CommandSpec } from '../args/command-spec.js';
import { absolutePath, oneOf, parseVmid, stringValue, stringValues } from '../args/values.js';
import { openStorage } from '../config/storage-registry.js';
import { usageError } from '../errors/usage-error.js';
import { assertReachableBy } from './reachable-by.js';
import { BACKUP_JOB_OPTIONS, backupText, jobOptionsFrom, runGuestBackup } from './backup-job.js';

/** A `--uid-map <ct-uid>:<host-uid>:<count>` value (the container's root must be mapped). */
export interface UidMap {
  containerId: number;
  hostId: number;
  count: number;
}

/** Parses `--uid-map 0:100000:65536`. */
export function parseUidMap(text: string): UidMap {
  const match = /^(\d+):(\d+):(\d+)$/.exec(text);
  if (!match) throw usageError(`--uid-map must look like 0:100000:65536 (container id:host id:count), got ${JSON.stringify(text)}`);
  const [containerId, hostId, count] = match.slice(1).map(Number) as [number, number, number];
  if (containerId !== 0) throw usageError('--uid-map must map the container root (start with 0:)');
  if (count < 1) throw usageError('--uid-map count must be at least 1');
  return { containerId, hostId, count };
}

/** The host's ID map for a `--uid-map` (users and groups alike). */
export function idMapForUidMap(uidMap: UidMap): IdMapEntry[] {
  return (['u', 'g'] as const).map((type) => ({ type, inner: uidMap.containerId, outer: uidMap.hostId, count: uidMap.count }));
}

function generatedContainerConfig(vmid: number, rootfs: string, uidMap: UidMap | undefined): string {
  const lines = ['arch: amd64', `hostname: ct${vmid}`, 'ostype: debian', `rootfs: ${rootfs}`];
  if (uidMap) {
    lines.push('unprivileged: 1');
    for (const kind of ['u', 'g']) lines.push(`lxc.idmap: ${kind} ${uidMap.containerId} ${uidMap.hostId} ${uidMap.count}`);
  }
  return `${lines.join('\n')}\n`;
}

/** `bp backup ct`. */
export const backupCtCommand: CommandSpec = {
  name: 'backup ct',
  summary: "Back up a container's root tree (ACLs, xattrs, hardlinks kept)",
  usage: '<vmid> --rootfs <dir> [options]',
  description: "PVE's standard excludes (/tmp/?*, /var/tmp/?*, /var/run/?*.pid) apply; patterns starting with / are anchored at the root.",
  options: [
    { name: 'rootfs', type: 'string', argument: '<dir>', description: "the container's root directory" },
    { name: 'exclude', type: 'string', multiple: true, argument: '<pattern>', description: 'leave out matching paths (repeatable, vzdump exclude-path syntax)' },
    { name: 'format', type: 'string', argument: '<tar|squashfs>', description: 'archive format', defaultText: "the storage's lxc-backup-mode" },
    { name: 'uid-map', type: 'string', argument: '<0:host:count>', description: 'unprivileged container: host uid/gid range of its ids (backup runs as the mapped root)' },
    { name: 'stdexcludes', type: 'boolean', negatable: true, description: "don't apply PVE's standard excludes" },
    ...BACKUP_JOB_OPTIONS,
  ],
  positionals: { min: 1, max: 1, names: 'a vmid' },
  examples: [
    'bp backup ct 200 --rootfs ./rootfs',
    'bp backup ct 200 --rootfs /srv/ct200 --exclude "/var/cache/**" --format squashfs',
    'bp backup ct 201 --rootfs /srv/ct201 --uid-map 0:100000:65536 --protected',
  ],
  failureCode: 'BP_BACKUP_FAILED',
  async run(context) {
    const vmid = parseVmid(context.positionals[0]);
    const rootText = stringValue(context.values, 'rootfs');
    if (rootText === undefined) throw usageError('--rootfs <dir> is required');
    const format = oneOf(stringValue(context.values, 'format'), containerFormatSchema.options, '--format');
    const uidText = stringValue(context.values, 'uid-map');
    const uidMap = uidText === undefined ? undefined : parseUidMap(uidText);
    jobOptionsFrom(context.values);
    const rootDirectory = absolutePath(context.io.cwd, rootText);
    const rootStat = await stat(rootDirectory).catch(() => undefined);
    if (!rootStat?.isDirectory()) throw new BpError('BP_NOT_FOUND', `--rootfs ${rootDirectory} is not a directory; give the container's root tree`, { details: { rootDirectory } });
    const storage = await openStorage(context.paths, context.global.storage, format === undefined ? {} : { 'lxc-backup-mode': format });
    const effectiveFormat = String((storage.config as Record<string, unknown>)['lxc-backup-mode'] ?? format ?? 'tar');
    const supported = storage.plugin.supports.containerFormats;
    if (!supported.includes(effectiveFormat as never)) {
      throw new BpError('BP_NOT_SUPPORTED', `storage ${storage.storeId} writes container archives as ${supported.join(' or ') || 'nothing'}, not ${effectiveFormat}`);
    }
    if (uidMap) {
      // The archive is written by the container's mapped root: it must reach the tree and the storage.
      await assertReachableBy(`${rootDirectory}/.`, uidMap.hostId, uidMap.hostId);
      const storagePath = (storage.config as Record<string, unknown>).path;
      if (typeof storagePath === 'string') await assertReachableBy(`${storagePath}/.`, uidMap.hostId, uidMap.hostId);
    }
    const configPath = stringValue(context.values, 'config');
    const config = configPath === undefined ? generatedContainerConfig(vmid, rootDirectory, uidMap) : await readFile(absolutePath(context.io.cwd, configPath), 'utf8');
    const json = await runGuestBackup(
      context,
      storage,
      {
        type: 'lxc',
        vmid,
        config,
        rootDirectory,
        backupUserId: uidMap?.hostId ?? 0,
        excludePatterns: stringValues(context.values, 'exclude'),
        stdexcludes: context.values.stdexcludes !== false,
      },
      { values: context.values, mode: effectiveFormat, totalBytes: 0 },
    );
    return { json, text: backupText(json) };
  },
};
