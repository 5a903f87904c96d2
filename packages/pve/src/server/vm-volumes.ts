import type { NbdVmVolume, VmVolumes } from '@bp/api';
import type { BridgedFileHandleEntry } from '../translate/provider-args.js';
import { openBridgedFileHandle, type BridgedFileHandle } from './file-handle-volume.js';
import type { CallContext } from './handler.js';

/**
 * backup_vm's volumes ready for the TS provider: `nbd` ones as they are, `file-handle` ones with
 * the PVE process's descriptor opened here and `next-dirty-region` drained from the Perl side
 * (`regions.next`) and discards done there (`volume.discard`). `close` releases the descriptors once
 * `backupVm` returned.
 */
export async function openVmVolumes(parsed: Record<string, NbdVmVolume | BridgedFileHandleEntry>, context: CallContext): Promise<{ volumes: VmVolumes; close(): Promise<void> }> {
  const volumes: VmVolumes = {};
  const opened: BridgedFileHandle[] = [];
  const close = async (): Promise<void> => {
    await Promise.allSettled(opened.map((handle) => handle.close()));
  };
  try {
    for (const [device, entry] of Object.entries(parsed)) {
      if (entry.mechanism === 'nbd') {
        volumes[device] = entry;
        continue;
      }
      const handle = await openBridgedFileHandle(device, entry, (method, params) => context.request(method, params), context.log, context.signal);
      opened.push(handle);
      volumes[device] = handle.volume;
    }
  } catch (error) {
    await close();
    throw error;
  }
  return { volumes, close };
}
