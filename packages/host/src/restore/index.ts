export { restoreVm, type RestoredDisk, type RestoredVm, type RestoreVmOptions } from './restore-vm.js';
export { isUnprivilegedConfig, restoreContainer, type RestoreContainerOptions, type RestoredContainer } from './restore-container.js';
export { checkUntrustedTar, decompressionFlags } from './container-tar.js';
