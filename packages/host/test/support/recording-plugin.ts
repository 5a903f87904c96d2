// A storage plugin + provider that records every call (provider and storage, with arguments) as
// JSON lines in a file, so calls made in the container child (another uid) land in the same trace.
import { appendFileSync, chownSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { BpError, CURRENT_SPECIFICATION_VERSION, type BackupProvider, type BackupStorage, type BackupStoragePlugin, type VmVolumes } from '@bp/api';

const configSchema = z.object({
  /** JSON-lines file every call is appended to. */
  recordFile: z.string(),
  /** Directory for backup data (container targets). */
  root: z.string(),
  /** `<method>` or `<method>:<vmid>` -> error message to throw. */
  failures: z.record(z.string(), z.string()).default({}),
  /** Overrides: `backupInit:<vmid>` -> result, `backupGetMechanism:<vmid>` -> mechanism, `backupVmQueryIncremental:<vmid>` -> answers, `backupContainerDelayMs:<vmid>` -> ms. */
  results: z.record(z.string(), z.unknown()).default({}),
  'max-protected-backups': z.number().int().optional(),
  'prune-backups': z.string().optional(),
});
export type RecordingConfig = z.infer<typeof configSchema>;

export interface Recorded {
  who: 'provider' | 'storage' | 'vm';
  method: string;
  args: unknown[];
  uid: number;
  pid: number;
}

export function record(config: { recordFile: string }, who: Recorded['who'], method: string, args: unknown[]): void {
  const entry: Recorded = { who, method, args, uid: process.getuid?.() ?? -1, pid: process.pid };
  appendFileSync(config.recordFile, `${JSON.stringify(entry)}\n`);
}

export function readRecords(recordFile: string): Recorded[] {
  return readFileSync(recordFile, 'utf8')
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => JSON.parse(line) as Recorded);
}

function plainVolumes(volumes: VmVolumes): Record<string, unknown> {
  return Object.fromEntries(
    Object.entries(volumes).map(([device, v]) => [
      device,
      v.mechanism === 'nbd'
        ? { mechanism: v.mechanism, size: v.size, bitmapMode: v.bitmapMode, nbdPath: v.nbdPath, exportName: v.exportName, bitmapName: v.bitmapName }
        : { mechanism: v.mechanism, size: v.size, bitmapMode: v.bitmapMode, filePath: v.filePath },
    ]),
  );
}

function maybeFail(config: RecordingConfig, method: string, vmid?: number): void {
  const message = (vmid !== undefined ? config.failures[`${method}:${vmid}`] : undefined) ?? config.failures[method];
  if (message !== undefined) throw new Error(message);
}

function createProvider(config: RecordingConfig): BackupProvider {
  const call = (method: string, args: unknown[], vmid?: number): void => {
    record(config, 'provider', method, args);
    maybeFail(config, method, vmid);
  };
  const override = (key: string): unknown => config.results[key];
  return {
    specificationVersion: CURRENT_SPECIFICATION_VERSION,
    providerName: async () => {
      call('providerName', []);
      return 'recording';
    },
    jobInit: async (startTime) => call('jobInit', [typeof startTime]),
    jobCleanup: async () => call('jobCleanup', []),
    backupInit: async (vmid, vmtype, startTime) => {
      call('backupInit', [vmid, vmtype, typeof startTime], vmid);
      const name = override(`backupInit:${vmid}`);
      return name !== undefined ? (name as { archiveName: string }) : { archiveName: `${vmid}/${vmtype}-${startTime}` };
    },
    backupCleanup: async (vmid, vmtype, success, info) => {
      call('backupCleanup', [vmid, vmtype ?? null, success, info], success ? vmid : undefined);
      return success ? { stats: { archiveSize: 4242 } } : {};
    },
    backupGetMechanism: async (vmid, vmtype) => {
      call('backupGetMechanism', [vmid, vmtype], vmid);
      return (override(`backupGetMechanism:${vmid}`) as 'nbd' | undefined) ?? (vmtype === 'qemu' ? 'nbd' : 'directory');
    },
    backupHandleLogFile: async (vmid, filename) => {
      const text = readFileSync(filename, 'utf8');
      call('backupHandleLogFile', [vmid, filename, text], vmid);
    },
    backupVmQueryIncremental: async (vmid, devices) => {
      call('backupVmQueryIncremental', [vmid, devices], vmid);
      const answer = override(`backupVmQueryIncremental:${vmid}`);
      if (answer !== undefined) return answer as Record<string, 'new'>;
      return Object.fromEntries(Object.keys(devices).map((d) => [d, 'new' as const]));
    },
    backupVm: async (vmid, guestConfig, volumes, info) => {
      call('backupVm', [vmid, guestConfig, plainVolumes(volumes), { ...info, signal: info.signal ? 'AbortSignal' : undefined }], vmid);
    },
    backupContainerPrepare: async (vmid, info) => {
      call('backupContainerPrepare', [vmid, info], vmid);
      const target = join(config.root, String(vmid));
      mkdirSync(target, { recursive: true });
      chownSync(target, info.backupUserId, info.backupGroupId ?? info.backupUserId);
    },
    backupContainer: async (vmid, guestConfig, excludePatterns, info) => {
      call('backupContainer', [vmid, guestConfig, excludePatterns, info], vmid);
      const delay = override(`backupContainerDelayMs:${vmid}`);
      if (typeof delay === 'number') await new Promise((resolve) => setTimeout(resolve, delay));
      // Who the child is inside its namespace, its uid map, and who owns the container's files from in there.
      const seen = {
        uid: process.getuid?.(),
        uidMap: readFileSync('/proc/self/uid_map', 'utf8').trim().split(/\s+/).map(Number),
        hostnameOwner: statSync(join(info.directory, 'etc/hostname')).uid,
      };
      writeFileSync(join(config.root, String(vmid), 'seen.json'), JSON.stringify(seen));
    },
    restoreGetMechanism: async () => {
      throw new BpError('BP_NOT_SUPPORTED', 'recording provider does not restore');
    },
    archiveGetGuestConfig: async () => '',
    archiveGetFirewallConfig: async () => undefined,
    restoreVmInit: async () => ({}),
    restoreVmCleanup: async () => {},
    restoreVmVolumeInit: async () => {
      throw new BpError('BP_NOT_SUPPORTED', 'recording provider does not restore');
    },
    restoreVmVolumeCleanup: async () => {},
    restoreContainerInit: async () => {
      throw new BpError('BP_NOT_SUPPORTED', 'recording provider does not restore');
    },
    restoreContainerCleanup: async () => {},
  };
}

/** The recording storage plugin; `moduleRef` points at this file so the container child can load it. */
export const recordingPlugin: BackupStoragePlugin<RecordingConfig> = {
  specificationVersion: CURRENT_SPECIFICATION_VERSION,
  type: 'recording',
  configSchema,
  supports: { vmMechanisms: ['nbd'], incremental: true, containerFormats: ['tar'], notes: true, protected: true, prune: true, delete: false, verify: false },
  moduleRef: { module: fileURLToPath(import.meta.url), exportName: 'recordingPlugin' },
  open(storeId, config): BackupStorage<RecordingConfig> {
    const call = (method: string, args: unknown[]): void => {
      record(config, 'storage', method, args);
      maybeFail(config, `storage.${method}`);
    };
    const storage: BackupStorage<RecordingConfig> = {
      storeId,
      config,
      plugin: recordingPlugin,
      parseVolname: (volname) => {
        const match = /^backup\/((\d+)\/.*)$/.exec(volname);
        if (!match) throw new BpError('BP_INVALID_VOLUME_ID', `bad volname ${volname}`);
        return { vtype: 'backup', name: match[1]!, vmid: Number(match[2]) };
      },
      path: async () => {
        throw new BpError('BP_NOT_SUPPORTED', 'no paths');
      },
      listVolumes: async (filter) => {
        call('listVolumes', [filter ?? null]);
        return [];
      },
      volumeSizeInfo: async () => {
        throw new BpError('BP_NOT_SUPPORTED', 'no sizes');
      },
      activateStorage: async () => call('activateStorage', []),
      status: async () => ({ total: 1, used: 0, available: 1, active: true }),
      pruneBackups: async (keep, options) => {
        call('pruneBackups', [keep, { vmid: options?.vmid, type: options?.type, dryRun: options?.dryRun }]);
        options?.log?.('info', 'nothing to prune');
        return [];
      },
      freeImage: async () => {
        throw new BpError('BP_NOT_SUPPORTED', 'no delete');
      },
      getVolumeAttribute: async () => undefined,
      updateVolumeAttribute: async (volname, attribute, value) => call('updateVolumeAttribute', [volname, attribute, value]),
      newBackupProvider: () => {
        call('newBackupProvider', []);
        return createProvider(config);
      },
    };
    return storage;
  },
};
