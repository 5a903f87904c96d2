// A test double of openVm: no QEMU, just device sizes and recorded calls.
import type { VmVolumes } from '@bp/api';
import { deviceNameFor, type JobOpenedVm, type VmAccessOpener } from '../../src/index.js';
import { record } from './recording-plugin.js';

export const DOUBLE_DEVICE_SIZE = 1024 * 1024;

export function vmAccessDouble(recordFile: string): VmAccessOpener {
  const config = { recordFile };
  return async ({ source, workDir }) => {
    record(config, 'vm', 'open', [source.kind]);
    const devices = Object.fromEntries(source.disks.map((d) => [deviceNameFor(d.virtdev), { size: DOUBLE_DEVICE_SIZE }]));
    const opened: JobOpenedVm = {
      devices,
      setupAccess: async ({ storeId, answers, mechanism }) => {
        record(config, 'vm', 'setupAccess', [storeId, answers ?? null, mechanism]);
        const volumes: VmVolumes = {};
        for (const [device, { size }] of Object.entries(devices)) {
          const answer = answers?.[device];
          volumes[device] = {
            mechanism: 'nbd',
            size,
            bitmapMode: answer === undefined || answer === 'none' ? 'none' : answer === 'use' ? 'reuse' : 'new',
            nbdPath: `${workDir}/nbd.sock`,
            exportName: device,
            ...(answer === undefined || answer === 'none' ? {} : { bitmapName: `snapshot-access:${storeId}` }),
          };
        }
        return {
          volumes,
          bitmapStatus: Object.fromEntries(Object.keys(devices).map((d) => [d, 'created new'])),
          teardown: async (success) => record(config, 'vm', 'teardown', [success]),
        };
      },
      close: async () => record(config, 'vm', 'close', []),
    };
    return opened;
  };
}
