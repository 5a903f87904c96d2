import {
  assertSpecificationVersion,
  BpError,
  parseVolumeId,
  restoreMechanismResultSchema,
  type BackupProvider,
  type BackupStorage,
  type GuestType,
  type LogFunction,
  type RestoreMechanism,
} from '@bp/api';
import { errorMessage, providerError } from '../job/provider-results.js';

/**
 * PVE's `check_volume_access` for a restore: the volume ID must name this storage, and the
 * storage's `parseVolname` must accept it as a backup (it also yields the owner VMID).
 */
export function resolveBackupVolume(storage: BackupStorage, volid: string): { volname: string; vmid: number } {
  const parsed = parseVolumeId(volid);
  if (parsed.storeId !== storage.storeId) {
    throw new BpError('BP_INVALID_ARGUMENT', `volume '${volid}' is on storage '${parsed.storeId}', not on '${storage.storeId}'; open that storage to restore it`);
  }
  const { vmid } = storage.parseVolname(parsed.volname);
  return { volname: parsed.volname, vmid };
}

/** A fresh provider for one restore entry point (PVE creates one per entry point). */
export function freshProvider(storage: BackupStorage, log: LogFunction): BackupProvider {
  const provider = storage.newBackupProvider(log);
  assertSpecificationVersion(provider, 'backup provider');
  return provider;
}

/** `restoreGetMechanism`, checked against what the restore path supports. */
export async function checkedRestoreMechanism(
  provider: BackupProvider,
  volname: string,
  vmtype: GuestType,
  allowed: readonly RestoreMechanism[],
): Promise<RestoreMechanism> {
  const result = restoreMechanismResultSchema.safeParse(await provider.restoreGetMechanism(volname));
  if (!result.success) {
    throw new BpError('BP_PROVIDER_FAILED', `restoreGetMechanism for '${volname}' returned an invalid result; expected { mechanism, vmtype }`);
  }
  const { mechanism, vmtype: archiveType } = result.data;
  if (archiveType !== vmtype) {
    throw new BpError('BP_RESTORE_FAILED', `backup '${volname}' is of guest type '${archiveType}', not '${vmtype}'; restore it as a ${archiveType === 'qemu' ? 'VM' : 'container'}`);
  }
  if (!allowed.includes(mechanism)) {
    throw new BpError('BP_NOT_SUPPORTED', `restore mechanism '${mechanism}' requested by the backup provider is not supported for ${vmtype === 'qemu' ? 'VMs' : 'containers'}`);
  }
  return mechanism;
}

/** A restore failure as a BpError: BpErrors pass through, anything else becomes BP_RESTORE_FAILED. */
export function restoreError(error: unknown, what: string): BpError {
  if (BpError.isInstance(error)) return error;
  return new BpError('BP_RESTORE_FAILED', `${what} failed: ${errorMessage(error)}`, { cause: error });
}

export { errorMessage, providerError };
