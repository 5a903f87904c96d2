import { lstat } from 'node:fs/promises';
import { BpError, restoreContainerInitResultSchema, type BackupStorage, type LogFunction } from '@bp/api';
import { checkUntrustedTar } from '../restore/container-tar.js';
import { checkedRestoreMechanism, freshProvider } from '../restore/restore-source.js';
import type { Session } from './session.js';

/** A container restore point as the restore path exposes it. */
export type ContainerView = { kind: 'tar'; tarPath: string } | { kind: 'directory'; directory: string };

/**
 * The one door to a container backup: `restoreGetMechanism` (vmtype lxc), `restoreContainerInit`,
 * and for a tar the same untrusted-archive checks as `restoreContainer` (PVE's plus the member
 * header scan); a directory (e.g. a squashfs mounted by the provider) must be a directory.
 */
export async function openContainerView(session: Session, storage: BackupStorage, volname: string, log: LogFunction, signal?: AbortSignal): Promise<ContainerView> {
  const provider = freshProvider(storage, log);
  session.provider = provider;
  const mechanism = await checkedRestoreMechanism(provider, volname, 'lxc', ['tar', 'directory']);
  await session.update((record) => {
    record.provider = { vmtype: 'lxc', devices: [] };
  });
  const result = restoreContainerInitResultSchema.safeParse(await provider.restoreContainerInit(volname, {}));
  if (!result.success) throw new BpError('BP_PROVIDER_FAILED', `restoreContainerInit for '${volname}' returned neither tarPath nor archiveDirectory`);
  if (mechanism === 'tar' && 'tarPath' in result.data) {
    const path = result.data.tarPath;
    if (!(await lstat(path).then((info) => info.isFile(), () => false))) throw new BpError('BP_ARCHIVE_UNSAFE', `tar path '${path}' given by the provider is not a regular file`);
    await checkUntrustedTar(path, signal);
    return { kind: 'tar', tarPath: path };
  }
  if (mechanism === 'directory' && 'archiveDirectory' in result.data) {
    const directory = result.data.archiveDirectory;
    if (!(await lstat(directory).then((info) => info.isDirectory(), () => false))) throw new BpError('BP_PROVIDER_FAILED', `archive directory '${directory}' given by the provider is not a directory`);
    return { kind: 'directory', directory };
  }
  throw new BpError('BP_NOT_SUPPORTED', `restore mechanism '${mechanism}' with ${Object.keys(result.data).join(', ')} is not supported for containers`);
}
