import type { BackupVmInfo, ContainerBackupInfo, VmDeviceSizes, VmVolumes } from '@bp/api';
import type { RunnerRequestHandler } from './runner.js';

// The @bp/api contract's arguments in the shapes PVE passes to a Perl provider (spec 1.1–1.5):
// hyphenated keys, sizes as integers, 1/0, undef for absent values. Perl-only values cross as
// the bridge protocol carries them (docs/protocol.md): a file handle as {pid, fd} of this
// process, the `next-dirty-region` closure as a stream the Perl side drains with `regions.next`.

/** `backup_vm_query_incremental`'s `$devices`: `{ <device> => { size => N } }`. */
export function deviceSizesToPerl(devices: VmDeviceSizes): Record<string, { size: number }> {
  return Object.fromEntries(Object.entries(devices).map(([device, entry]) => [device, { size: entry.size }]));
}

/** `backup_vm`'s `$info`: `bandwidth-limit` (bytes/s) only when set, `firewall-config` only when present. */
export function vmInfoToPerl(info: BackupVmInfo): Record<string, unknown> {
  return {
    ...(info.bandwidthLimit ? { 'bandwidth-limit': info.bandwidthLimit } : {}),
    ...(info.firewallConfig === undefined ? {} : { 'firewall-config': info.firewallConfig }),
  };
}

/** `backup_container(_prepare)`'s `$info`. */
export function containerInfoToPerl(info: ContainerBackupInfo): Record<string, unknown> {
  return {
    directory: info.directory,
    sources: [...info.sources],
    'backup-user-id': info.backupUserId,
    'firewall-config': info.firewallConfig,
    ...(info.bandwidthLimit ? { 'bandwidth-limit': info.bandwidthLimit } : {}),
  };
}

/**
 * `backup_vm`'s `$volumes` and the handlers of the Perl side's requests while it runs:
 * `regions.next` drains a volume's dirty regions in batches, `volume.discard` discards on it
 * (PVE::Storage::Common::deallocate on the handle, in the compatibility layer).
 */
export function vmVolumesToPerl(volumes: VmVolumes): { volumes: Record<string, Record<string, unknown>>; requests: Record<string, RunnerRequestHandler> } {
  const perl: Record<string, Record<string, unknown>> = {};
  const iterators = new Map<string, AsyncIterator<{ offset: number; length: number }>>();
  for (const [device, volume] of Object.entries(volumes)) {
    const base = { size: volume.size, 'bitmap-mode': volume.bitmapMode };
    if (volume.mechanism === 'nbd') {
      perl[device] = { ...base, 'nbd-path': volume.nbdPath, 'bitmap-name': volume.bitmapName ?? null };
    } else {
      perl[device] = { ...base, 'file-handle': { pid: process.pid, fd: volume.fileHandle.fd }, 'next-dirty-region': { stream: device } };
    }
  }
  const fileVolume = (stream: unknown) => {
    const volume = volumes[String(stream)];
    if (volume?.mechanism !== 'file-handle') throw new Error(`no file-handle volume '${String(stream)}' in this backup_vm call`);
    return volume;
  };
  const requests: Record<string, RunnerRequestHandler> = {
    'regions.next': async (params) => {
      const stream = String(params.stream);
      let iterator = iterators.get(stream);
      if (!iterator) {
        iterator = fileVolume(stream).dirtyRegions()[Symbol.asyncIterator]();
        iterators.set(stream, iterator);
      }
      const max = Number.isSafeInteger(params.max) && (params.max as number) > 0 ? (params.max as number) : 256;
      const regions: Array<[number, number]> = [];
      let done = false;
      while (regions.length < max) {
        const next = await iterator.next();
        if (next.done) {
          done = true;
          break;
        }
        regions.push([next.value.offset, next.value.length]);
      }
      return { regions, done };
    },
    'volume.discard': async (params) => {
      await fileVolume(params.stream).discard(Number(params.offset), Number(params.length));
      return null;
    },
  };
  return { volumes: perl, requests };
}
