import type { CommandSpec } from '../args/command-spec.js';
import { backupCtCommand } from './backup-ct.js';
import { backupVmCommand } from './backup-vm.js';
import { conformanceCommand } from './conformance.js';
import { deleteCommand } from './delete.js';
import { demoCommand } from '../demo/demo-command.js';
import { helpCommand } from './help.js';
import { filesCommand } from './files.js';
import { listCommand } from './list.js';
import { mountCommand, umountCommand } from './mount.js';
import { nbdCommand } from './nbd.js';
import { newProviderCommand } from './new-provider.js';
import { notesCommand } from './notes.js';
import { protectCommand, unprotectCommand } from './protect.js';
import { pruneCommand } from './prune.js';
import { pveInstallCommand, pveUninstallCommand } from './pve-install.js';
import { pvePackageCommand } from './pve-package.js';
import { restoreCommand } from './restore.js';
import { serveCommand } from './serve.js';
import { showCommand } from './show.js';
import { storageAddCommand, storageListCommand, storageRemoveCommand } from './storage.js';
import { verifyCommand } from './verify.js';

/** Every `bp` command. */
export const COMMANDS: readonly CommandSpec[] = [
  backupVmCommand,
  backupCtCommand,
  restoreCommand,
  filesCommand,
  serveCommand,
  mountCommand,
  umountCommand,
  listCommand,
  showCommand,
  verifyCommand,
  notesCommand,
  protectCommand,
  unprotectCommand,
  pruneCommand,
  deleteCommand,
  storageAddCommand,
  storageListCommand,
  storageRemoveCommand,
  nbdCommand,
  pveInstallCommand,
  pveUninstallCommand,
  pvePackageCommand,
  newProviderCommand,
  conformanceCommand,
  demoCommand,
  helpCommand(() => COMMANDS),
];
