import type { BackupProvider } from '../provider/backup-provider.js';
import { CURRENT_SPECIFICATION_VERSION, type SpecificationVersion } from '../provider/specification-version.js';
import type { StorageSupports } from '../storage/supports.js';
import { bindMethods } from './bind-methods.js';
import { assertConsistent, checkMethods, givenButUndeclared, notSupported, refuse, supportsContainers, supportsVms } from './not-supported.js';

/** Methods every provider implements: they depend on how it names and stores backups. */
type RequiredProviderMethods = 'backupInit' | 'backupCleanup' | 'restoreGetMechanism' | 'archiveGetGuestConfig';
/** VM methods: required when `supports.vmMechanisms` is not empty, refused otherwise. */
export const VM_PROVIDER_METHODS = ['backupVm', 'restoreVmInit', 'restoreVmVolumeInit'] as const;
/** Container methods: required when `supports.containerFormats` is not empty, refused otherwise. */
export const CONTAINER_PROVIDER_METHODS = ['backupContainer', 'restoreContainerInit'] as const;

/**
 * What {@link defineProvider} needs: a name, the four methods that say how backups are named and
 * found, the VM and/or container methods its `supports` declares, and any other method whose
 * default does not fit. Defaults: `jobInit`, `jobCleanup`, `backupHandleLogFile`,
 * `backupContainerPrepare` and every `*Cleanup` of a restore do nothing;
 * `archiveGetFirewallConfig` finds none; `backupVmQueryIncremental` answers "no bitmaps";
 * `backupGetMechanism` answers the only declared VM mechanism (containers: `directory`).
 */
export type ProviderDefinition = Pick<BackupProvider, RequiredProviderMethods> &
  Partial<Omit<BackupProvider, RequiredProviderMethods | 'specificationVersion' | 'providerName'>> & {
    /** `providerName()`: human-readable, used in PVE's log lines. */
    name: string;
    /** Default: {@link CURRENT_SPECIFICATION_VERSION}. */
    specificationVersion?: SpecificationVersion;
  };

const noop = async (): Promise<void> => {};

/**
 * Builds a complete {@link BackupProvider} from the methods a provider really has, consistent with
 * its storage's `supports` declaration: VM methods exist exactly when VM mechanisms are declared,
 * container methods exactly when container formats are, `backupVmQueryIncremental` only with
 * `incremental`. Operations the declaration rules out throw `BP_NOT_SUPPORTED`.
 *
 * Throws `BP_INVALID_ARGUMENT` when the definition and the declaration disagree (a declared
 * operation without its method, or a method for an undeclared one), so the mismatch shows up on
 * the first `newBackupProvider` call, not in the middle of a backup job.
 */
export function defineProvider(supports: StorageSupports, given: ProviderDefinition): BackupProvider {
  const definition = bindMethods(given);
  const vms = supportsVms(supports);
  const containers = supportsContainers(supports);
  const pick = <K extends keyof ProviderDefinition>(names: readonly K[]): Record<string, unknown> =>
    Object.fromEntries(names.map((name) => [name, definition[name]]));
  const problems = [
    ...checkMethods(vms, 'vmMechanisms', pick(VM_PROVIDER_METHODS)),
    ...checkMethods(containers, 'containerFormats', pick(CONTAINER_PROVIDER_METHODS)),
    ...givenButUndeclared(vms, 'vmMechanisms', pick(['restoreVmCleanup', 'restoreVmVolumeCleanup', 'restoreVmVolumeExport'])),
    ...givenButUndeclared(containers, 'containerFormats', pick(['backupContainerPrepare', 'restoreContainerCleanup'])),
    ...(definition.backupVmQueryIncremental && !supports.incremental ? ['backupVmQueryIncremental is given but supports.incremental is not declared'] : []),
    ...(supports.incremental && !definition.backupVmQueryIncremental ? ['supports.incremental is declared but backupVmQueryIncremental is missing'] : []),
    ...(supports.vmMechanisms.length > 1 && !definition.backupGetMechanism ? ['several vmMechanisms are declared: backupGetMechanism must say which one this storage uses'] : []),
  ];
  assertConsistent(`provider ${definition.name}`, problems);

  const noVms = `provider ${definition.name} declares no VM mechanisms`;
  const noContainers = `provider ${definition.name} declares no container formats`;
  const onlyMechanism = supports.vmMechanisms[0];
  return {
    specificationVersion: definition.specificationVersion ?? CURRENT_SPECIFICATION_VERSION,
    providerName: async () => definition.name,
    jobInit: definition.jobInit ?? noop,
    jobCleanup: definition.jobCleanup ?? noop,
    backupInit: definition.backupInit,
    backupCleanup: definition.backupCleanup,
    backupGetMechanism:
      definition.backupGetMechanism ??
      (async (_vmid, vmtype) => {
        if (vmtype === 'lxc') {
          if (!containers) throw notSupported('container backup', noContainers);
          return 'directory';
        }
        if (onlyMechanism === undefined) throw notSupported('VM backup', noVms);
        return onlyMechanism;
      }),
    backupHandleLogFile: definition.backupHandleLogFile ?? noop,
    backupVmQueryIncremental: definition.backupVmQueryIncremental ?? (async () => undefined),
    backupVm: definition.backupVm ?? refuse('backupVm', noVms),
    backupContainerPrepare: definition.backupContainerPrepare ?? (containers ? noop : refuse('backupContainerPrepare', noContainers)),
    backupContainer: definition.backupContainer ?? refuse('backupContainer', noContainers),
    restoreGetMechanism: definition.restoreGetMechanism,
    archiveGetGuestConfig: definition.archiveGetGuestConfig,
    archiveGetFirewallConfig: definition.archiveGetFirewallConfig ?? (async () => undefined),
    restoreVmInit: definition.restoreVmInit ?? refuse('restoreVmInit', noVms),
    restoreVmCleanup: definition.restoreVmCleanup ?? noop,
    restoreVmVolumeInit: definition.restoreVmVolumeInit ?? refuse('restoreVmVolumeInit', noVms),
    restoreVmVolumeCleanup: definition.restoreVmVolumeCleanup ?? noop,
    ...(definition.restoreVmVolumeExport ? { restoreVmVolumeExport: definition.restoreVmVolumeExport } : {}),
    restoreContainerInit: definition.restoreContainerInit ?? refuse('restoreContainerInit', noContainers),
    restoreContainerCleanup: definition.restoreContainerCleanup ?? noop,
  };
}
