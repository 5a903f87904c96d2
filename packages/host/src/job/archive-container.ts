import { BpError, containerBackupInfoSchema, parseWithSchema, STANDARD_EXCLUDES, type ContainerBackupInfo } from '@bp/api';
import { runContainerBackupChild } from '../container/run-container-child.js';
import { checkIdMap, mappedRoot, type IdMapEntry } from '../userns/index.js';
import { bandwidthLimitOf, type GuestContext } from './guest-context.js';
import type { ContainerGuestSpec } from './types.js';

/** vzdump's exclusion list: `exclude-path` entries, then the standard excludes when `stdexcludes` is on. */
export function containerExcludePatterns(spec: ContainerGuestSpec): string[] {
  return [...(spec.excludePatterns ?? []), ...(spec.stdexcludes === false ? [] : STANDARD_EXCLUDES)];
}

/** The container's ID map: the given one (its root must be the backup user/group) or PVE's default from the backup IDs. */
export function containerIdMap(spec: ContainerGuestSpec): IdMapEntry[] {
  const uid = spec.backupUserId;
  const gid = spec.backupGroupId ?? uid;
  if (!spec.idMap) {
    return [
      { type: 'u', inner: 0, outer: uid, count: 65536 },
      { type: 'g', inner: 0, outer: gid, count: 65536 },
    ];
  }
  checkIdMap(spec.idMap);
  const root = mappedRoot(spec.idMap);
  if (root.uid !== uid || root.gid !== gid) {
    throw new BpError('BP_INVALID_ARGUMENT', `container ${spec.vmid}: the ID map's root is ${root.uid}:${root.gid}, not the backup user ${uid}:${gid}; make them agree`);
  }
  return spec.idMap;
}

/**
 * pve-container's `archive` with a provider (spec 1.3 CT-1..CT-5): mechanism must be
 * `directory`; `backupContainerPrepare` runs in-process as root; `backupContainer` runs in a
 * child as the container's mapped root, or in-process for a privileged container.
 */
export async function archiveContainer(ctx: GuestContext, spec: ContainerGuestSpec, guestConfig: string): Promise<void> {
  const { provider, log } = ctx;
  const vmid = spec.vmid;
  log.info(`starting external backup via ${await provider.providerName()}`);
  const privileged = spec.backupUserId === 0;
  if (privileged) log.warn('external backup of privileged container can only be restored as unprivileged');

  const mechanism = await provider.backupGetMechanism(vmid, 'lxc');
  if (mechanism !== 'directory') {
    throw new BpError('BP_PROVIDER_FAILED', `backup provider returned unsupported mechanism '${String(mechanism)}' for container ${vmid}; expected 'directory'`);
  }

  const bandwidthLimit = bandwidthLimitOf(ctx.options);
  const info: ContainerBackupInfo = parseWithSchema(
    containerBackupInfoSchema,
    {
      directory: spec.rootDirectory,
      sources: spec.sources ?? ['./'],
      backupUserId: spec.backupUserId,
      ...(spec.backupGroupId !== undefined ? { backupGroupId: spec.backupGroupId } : {}),
      firewallConfig: spec.firewallConfig ?? '',
      ...(bandwidthLimit !== undefined ? { bandwidthLimit } : {}),
    },
    `container ${vmid} backup info`,
  );
  const excludePatterns = containerExcludePatterns(spec);
  const idMap = privileged ? undefined : containerIdMap(spec);

  ctx.phase('prepare-container');
  await provider.backupContainerPrepare(vmid, info);

  ctx.phase('backup-container');
  if (!idMap) {
    await provider.backupContainer(vmid, guestConfig, excludePatterns, { ...info, onProgress: ctx.onProgress });
    return;
  }
  const storage = ctx.storage;
  await runContainerBackupChild({
    request: {
      moduleRef: storage.plugin.moduleRef,
      storeId: storage.storeId,
      config: storage.config,
      vmid,
      guestConfig,
      excludePatterns,
      info,
    },
    idMap,
    log: (level, message) => ctx.providerLog(level, message),
    onProgress: ctx.onProgress,
    ...(ctx.signal ? { signal: ctx.signal } : {}),
  });
}
