export { restoreVm, type RestoredDisk, type RestoredVm, type RestoreVmOptions } from './restore-vm.js';
