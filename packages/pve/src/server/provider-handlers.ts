import { BpError, type BackupProvider, type RestoreContainerInitResult } from '@bp/api';
import {
  backupVmInfoArg,
  cleanupInfoArg,
  containerInfoArg,
  deviceSizesArg,
  guestTypeArg,
  requiredGuestType,
  restoreInfoAfterVolname,
  vmVolumesArg,
} from '../translate/provider-args.js';
import { toBool, toHash, toInt, toStr, toStrList } from '../translate/perl-values.js';
import type { CallContext, Handler } from './handler.js';
import { openVmVolumes } from './vm-volumes.js';

function argsOf(params: Record<string, unknown>): unknown[] {
  const args = params.args ?? [];
  if (!Array.isArray(args)) throw new BpError('BP_BRIDGE_PROTOCOL', 'provider call without an args list');
  return args;
}

function containerInitResult(result: RestoreContainerInitResult): Record<string, string> {
  return 'tarPath' in result ? { 'tar-path': result.tarPath } : { 'archive-directory': result.archiveDirectory };
}

/**
 * The `PVE::BackupProvider::Plugin::Base` methods, keyed by their Perl names. `args` is the
 * Perl argument list without `$self`, in Base.pm's positions; results are what the Perl method
 * returns (hyphenated keys, lists as arrays, undef as null).
 */
export function providerHandlers(provider: () => BackupProvider): Record<string, Handler> {
  const call = (run: (args: unknown[], signal: AbortSignal, context: CallContext) => Promise<unknown>): Handler => (params, context) => run(argsOf(params), context.signal, context);
  return {
    provider_name: call(async () => provider().providerName()),
    job_init: call(async ([startTime]) => {
      await provider().jobInit(toInt(startTime, 'start_time'));
      return null;
    }),
    job_cleanup: call(async () => {
      await provider().jobCleanup();
      return null;
    }),
    backup_init: call(async ([vmid, vmtype, startTime]) => {
      const result = await provider().backupInit(toInt(vmid, 'vmid'), requiredGuestType(vmtype), toInt(startTime, 'start_time'));
      return { 'archive-name': result.archiveName };
    }),
    backup_cleanup: call(async ([vmid, vmtype, success, info]) => {
      const result = await provider().backupCleanup(toInt(vmid, 'vmid'), guestTypeArg(vmtype), toBool(success, 'success'), cleanupInfoArg(info));
      return result.stats === undefined ? {} : { stats: { 'archive-size': result.stats.archiveSize } };
    }),
    backup_get_mechanism: call(async ([vmid, vmtype]) => provider().backupGetMechanism(toInt(vmid, 'vmid'), requiredGuestType(vmtype))),
    backup_handle_log_file: call(async ([vmid, filename]) => {
      await provider().backupHandleLogFile(toInt(vmid, 'vmid'), toStr(filename, 'filename'));
      return null;
    }),
    backup_vm_query_incremental: call(async ([vmid, devices]) => (await provider().backupVmQueryIncremental(toInt(vmid, 'vmid'), deviceSizesArg(devices))) ?? null),
    backup_vm: call(async ([vmid, guestConfig, volumes, info], signal, context) => {
      const opened = await openVmVolumes(vmVolumesArg(volumes), context);
      try {
        await provider().backupVm(toInt(vmid, 'vmid'), toStr(guestConfig, 'guest_config'), opened.volumes, backupVmInfoArg(info, signal));
      } finally {
        await opened.close();
      }
      return null;
    }),
    backup_container_prepare: call(async ([vmid, info]) => {
      await provider().backupContainerPrepare(toInt(vmid, 'vmid'), containerInfoArg(info));
      return null;
    }),
    backup_container: call(async ([vmid, guestConfig, excludes, info]) => {
      await provider().backupContainer(toInt(vmid, 'vmid'), toStr(guestConfig, 'guest_config'), toStrList(excludes ?? [], 'exclude_patterns'), containerInfoArg(info));
      return null;
    }),
    // Restore entry points: the extra `$storeid` pve-container passes (spec H4) is ignored.
    restore_get_mechanism: call(async ([volname]) => {
      const result = await provider().restoreGetMechanism(toStr(volname, 'volname'));
      return [result.mechanism, result.vmtype];
    }),
    archive_get_guest_config: call(async ([volname]) => provider().archiveGetGuestConfig(toStr(volname, 'volname'))),
    archive_get_firewall_config: call(async ([volname]) => (await provider().archiveGetFirewallConfig(toStr(volname, 'volname'))) ?? null),
    restore_vm_init: call(async ([volname]) => provider().restoreVmInit(toStr(volname, 'volname'))),
    restore_vm_cleanup: call(async ([volname]) => {
      await provider().restoreVmCleanup(toStr(volname, 'volname'));
      return null;
    }),
    restore_vm_volume_init: call(async ([volname, device, info]) => {
      toHash(info, 'info', true);
      const result = await provider().restoreVmVolumeInit(toStr(volname, 'volname'), toStr(device, 'device_name'), {});
      return { 'qemu-img-path': result.qemuImgPath };
    }),
    restore_vm_volume_cleanup: call(async ([volname, device, info]) => {
      toHash(info, 'info', true);
      await provider().restoreVmVolumeCleanup(toStr(volname, 'volname'), toStr(device, 'device_name'), {});
      return null;
    }),
    restore_container_init: call(async (args) => containerInitResult(await provider().restoreContainerInit(toStr(args[0], 'volname'), restoreInfoAfterVolname(args)))),
    restore_container_cleanup: call(async (args) => {
      await provider().restoreContainerCleanup(toStr(args[0], 'volname'), restoreInfoAfterVolname(args));
      return null;
    }),
  };
}
